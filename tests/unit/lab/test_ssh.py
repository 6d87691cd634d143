"""Lab SSH material: key pair and known_hosts lines (pure, no network)."""

from __future__ import annotations

import stat
from pathlib import Path

import paramiko
import pytest

from homelab_ctl.errors import LabError
from homelab_ctl.lab.ssh import generate_key, host_pattern, known_hosts_lines

HOST_KEYS = """\
ecdsa-sha2-nistp256 AAAAE2VjZHNh root@lab-cp1
ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF3R root@lab-cp1

ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB root@lab-cp1
"""


def test_known_hosts_lines_use_the_bracketed_port_form() -> None:
    assert known_hosts_lines("127.0.0.1", 40022, HOST_KEYS) == [
        "[127.0.0.1]:40022 ecdsa-sha2-nistp256 AAAAE2VjZHNh",
        "[127.0.0.1]:40022 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF3R",
        "[127.0.0.1]:40022 ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB",
    ]


def test_port_22_is_written_without_brackets() -> None:
    assert host_pattern("10.0.0.1", 22) == "10.0.0.1"
    assert known_hosts_lines("10.0.0.1", 22, "ssh-ed25519 AAAA")[0] == "10.0.0.1 ssh-ed25519 AAAA"


def test_no_host_key_is_an_error() -> None:
    with pytest.raises(LabError, match=r"no SSH host key found for \[127.0.0.1\]:2222"):
        known_hosts_lines("127.0.0.1", 2222, "# nothing\n\n")


def test_generated_key_pair(tmp_path: Path) -> None:
    private, public = tmp_path / "id_ed25519", tmp_path / "id_ed25519.pub"
    generate_key(private, public, "homelab-ctl-lab-x")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = paramiko.Ed25519Key.from_private_key_file(str(private))
    kind, blob, comment = public.read_text().split()
    assert (kind, comment) == ("ssh-ed25519", "homelab-ctl-lab-x")
    assert blob == key.get_base64()
