"""The podman wrapper: every call gets the project's containers.conf."""

from __future__ import annotations

from pathlib import Path

import pytest

from homelab_ctl.errors import ExitCode, LabError
from homelab_ctl.lab import podman


def test_env_points_at_the_project_containers_conf() -> None:
    env = podman.env({"PATH": "/usr/bin"})
    assert env == {"PATH": "/usr/bin", "CONTAINERS_CONF": str(podman.CONTAINERS_CONF)}
    text = Path(env["CONTAINERS_CONF"]).read_text()
    # podman 4.3 needs both limits (one alone raises the other above the hard limit) and runc.
    assert 'default_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]' in text
    assert 'runtime = "runc"' in text


def test_env_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOMELAB_TEST_MARK", "1")
    assert podman.env()["HOMELAB_TEST_MARK"] == "1"


def test_missing_tools_say_how_to_install_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LabError) as info:
        podman.require("podman")
    assert info.value.message == (
        "podman not found: the lab needs them (as root: apt-get install podman runc debootstrap)")
    assert info.value.exit_code == ExitCode.LAB


def test_last_line_skips_conmon_syslog_noise() -> None:
    text = "Error: network name x-net already used\nfailed to connect to syslog: Initialization\n"
    assert podman.last_line(text) == "Error: network name x-net already used"
    assert podman.last_line("") == "(no output)"
