"""`homelab-ctl lab` errors as a user sees them (no podman machine is started here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from homelab_ctl.errors import ExitCode

EXE = shutil.which("homelab-ctl", path=str(Path(sys.executable).parent)) or "homelab-ctl"


def run(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "XDG_STATE_HOME": "/tmp"}
    if path is not None:
        env["PATH"] = path
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, check=False)


@pytest.mark.parametrize("command", [[], ["image"], ["up"], ["status"], ["down"]], ids=lambda c: " ".join(c) or "lab")
def test_help(command: list[str]) -> None:
    result = run("lab", *command, "--help")
    assert result.returncode == 0
    assert "Usage: homelab-ctl lab" in result.stdout


def test_down_help_says_what_happens_to_the_directory() -> None:
    assert "directory (unless --keep-dir)" in run("lab", "down", "--help").stdout


def test_even_control_planes_are_refused_before_anything_starts() -> None:
    result = run("lab", "up", "--control-planes", "2", "--name", "unit-never-created")
    assert result.returncode == ExitCode.SPEC
    assert result.stderr.strip().splitlines() == [
        "error --control-planes 2: use an odd number from 1 to 9 (etcd needs a majority)"]


def test_missing_podman_is_one_line_with_the_install_command(tmp_path: Path) -> None:
    result = run("lab", "up", "--name", "unit-never-created", path=str(tmp_path))
    assert result.returncode == ExitCode.LAB
    assert int(ExitCode.LAB) == 7
    assert result.stderr.strip().splitlines() == [
        "error podman not found: the lab needs them (as root: apt-get install podman runc debootstrap)"]
