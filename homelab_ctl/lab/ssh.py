"""The lab's SSH material: its key pair, its known_hosts file, and the check that SSH answers."""

from __future__ import annotations

import os
import time
from pathlib import Path

from homelab_ctl.errors import LabError

HOST = "127.0.0.1"  # machines publish sshd here only


def generate_key(private: Path, public: Path, comment: str) -> None:
    """A fresh ed25519 key pair in OpenSSH format (private 0600, public 0644)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                             serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    public.write_bytes(pub + f" {comment}\n".encode())
    public.chmod(0o644)


def host_pattern(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def known_hosts_lines(host: str, port: int, host_keys: str) -> list[str]:
    """known_hosts entries for the public host keys (as in /etc/ssh/ssh_host_*_key.pub)."""
    lines = []
    for line in host_keys.splitlines():
        fields = line.split()
        if len(fields) < 2 or line.lstrip().startswith("#"):
            continue
        lines.append(f"{host_pattern(host, port)} {fields[0]} {fields[1]}")
    if not lines:
        raise LabError(f"no SSH host key found for {host_pattern(host, port)}")
    return lines


def wait_for_ssh(port: int, user: str, key: Path, known_hosts: Path, timeout: float = 60.0) -> None:
    """Until `true` runs over SSH on 127.0.0.1:port, with the lab key and a verified host key."""
    import paramiko

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        client = paramiko.SSHClient()
        client.load_host_keys(str(known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(HOST, port=port, username=user, key_filename=str(key), look_for_keys=False,
                           allow_agent=False, timeout=5, banner_timeout=5, auth_timeout=5)
            _, stdout, _ = client.exec_command("true", timeout=10)
            if stdout.channel.recv_exit_status() == 0:
                return
        except paramiko.BadHostKeyException as exc:
            raise LabError(f"{host_pattern(HOST, port)} presents a host key that is not in {known_hosts}") from exc
        except (OSError, paramiko.SSHException) as exc:
            last = exc
        finally:
            client.close()
        time.sleep(0.3)
    raise LabError(f"SSH to {host_pattern(HOST, port)} did not answer within {timeout:.0f} s: {last}")
