"""Paths written in a spec are relative to the spec file; '~' is left for the user's shell/Ansible."""

from __future__ import annotations

from pathlib import Path


def resolve(value: str | None, base: Path) -> str | None:
    if value is None or value.startswith("~") or value.startswith("/"):
        return value
    return str((base / value).resolve())
