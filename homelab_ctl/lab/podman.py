"""Every podman call of the lab goes through here, with the project's containers.conf.

Molecule scenarios must use the same settings: run them with `env()` as their environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from homelab_ctl.errors import LabError

CONTAINERS_CONF = Path(__file__).resolve().with_name("containers.conf")
INSTALL_HINT = "apt-get install podman runc debootstrap"


def env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment podman must run with (base defaults to os.environ).

    In podman 4.3 CONTAINERS_CONF replaces the system files: runc instead of crun (which fails on
    this kind of host's hybrid cgroups) and both rlimits within the host's hard limit.
    """
    result = dict(os.environ if base is None else base)
    result["CONTAINERS_CONF"] = str(CONTAINERS_CONF)
    return result


def require(*tools: str) -> None:
    """Fail with one line when a host tool is missing."""
    missing = [t for t in tools if shutil.which(t) is None and not Path("/usr/sbin", t).exists()]
    if missing:
        raise LabError(f"{', '.join(missing)} not found: the lab needs them (as root: {INSTALL_HINT})")


def run(args: Sequence[str], *, check: bool = True, timeout: float | None = 300,
        stdin: Any = None) -> subprocess.CompletedProcess[str]:
    """Run `podman ARGS`; with check, a failure raises LabError with podman's own last line."""
    cmd = ["podman", *args]
    try:
        proc = subprocess.run(cmd, env=env(), stdin=stdin, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except FileNotFoundError:
        raise LabError(f"podman not found (as root: {INSTALL_HINT})") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"podman {' '.join(args[:2])} did not finish within {timeout:.0f} s") from None
    if check and proc.returncode != 0:
        raise LabError(f"podman {' '.join(args[:2])} failed: {last_line(proc.stderr or proc.stdout)}")
    return proc


def last_line(text: str) -> str:
    # conmon's syslog complaint on hosts without syslog is noise, never the cause.
    lines = [line.strip() for line in text.strip().splitlines()
             if line.strip() and "failed to connect to syslog" not in line]
    return lines[-1] if lines else "(no output)"


def json_out(args: Sequence[str]) -> Any:
    """Run a podman command that prints JSON (e.g. `ps --format json`) and parse it."""
    text = run(args).stdout.strip()
    return json.loads(text) if text else []


def exists(kind: str, name: str) -> bool:
    """Whether a podman object exists; kind is container, network or image."""
    return run([kind, "exists", name], check=False).returncode == 0
