"""Where the lab keeps its files (XDG base directories)."""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(variable: str, default: str) -> Path:
    return Path(os.environ.get(variable) or Path.home() / default)


def cache_dir() -> Path:
    """Image build lock and log."""
    path = _xdg("XDG_CACHE_HOME", ".cache") / "homelab-ctl"
    path.mkdir(parents=True, exist_ok=True)
    return path


def labs_dir() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share") / "homelab-ctl" / "labs"


def default_dir(name: str) -> Path:
    """A lab's files: SSH key, known_hosts, cluster.yaml."""
    return labs_dir() / name
