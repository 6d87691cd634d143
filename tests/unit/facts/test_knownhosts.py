"""known_hosts: plain and hashed entries, [host]:port names, changed and unknown keys, appending.

Interoperability is checked both ways with paramiko's own HostKeys and with OpenSSH's ssh-keygen.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import paramiko
import pytest

from homelab_ctl.facts.knownhosts import KnownHosts, fingerprint, hash_name, host_pattern


def key(kind: str = "ed25519") -> tuple[str, bytes]:
    """A fresh public host key: (type, SSH wire blob)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    private = ed25519.Ed25519PrivateKey.generate() if kind == "ed25519" else ec.generate_private_key(ec.SECP256R1())
    text = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    name, b64 = text.decode().split()[:2]
    return name, base64.b64decode(b64)


def line(name: str, kind: str, blob: bytes) -> str:
    return f"{name} {kind} {base64.b64encode(blob).decode()}"


def test_host_pattern() -> None:
    assert host_pattern("10.0.0.1", 22) == "10.0.0.1"
    assert host_pattern("127.0.0.1", 2201) == "[127.0.0.1]:2201"


def test_plain_bracketed_entry_matches_only_its_port(tmp_path: Path) -> None:
    kind, blob = key()
    path = tmp_path / "known_hosts"
    path.write_text("# comment\n\n" + line("[127.0.0.1]:2201", kind, blob) + "\n")
    known = KnownHosts(path)
    assert known.check("[127.0.0.1]:2201", kind, blob).verdict == "ok"
    assert known.check("[127.0.0.1]:2202", kind, blob).verdict == "unknown"  # "[...]" is no char class
    assert known.check("127.0.0.1", kind, blob).verdict == "unknown"
    assert known.check("[127.0.0.1]:2201", kind, blob).lines == [3]


def test_changed_key_same_type_and_other_type(tmp_path: Path) -> None:
    kind, blob = key()
    _, other = key()
    ekind, eblob = key("ecdsa")
    path = tmp_path / "known_hosts"
    path.write_text(line("node1,10.0.0.1", kind, blob) + "\n")
    known = KnownHosts(path)
    assert known.check("10.0.0.1", kind, other).verdict == "changed"
    # The host no longer offers the known type at all: that is a changed host too.
    assert known.check("node1", ekind, eblob).verdict == "changed"
    assert known.known_types("node1") == [kind]


def test_hashed_entries_written_by_ssh_keygen_style(tmp_path: Path) -> None:
    kind, blob = key()
    path = tmp_path / "known_hosts"
    path.write_text(line(hash_name("[10.0.0.5]:2222"), kind, blob) + "\n")
    known = KnownHosts(path)
    assert known.check("[10.0.0.5]:2222", kind, blob).verdict == "ok"
    assert known.check("[10.0.0.5]:22", kind, blob).verdict == "unknown"


def test_wildcards_negation_markers(tmp_path: Path) -> None:
    kind, blob = key()
    _, ca = key()
    path = tmp_path / "known_hosts"
    path.write_text("\n".join([
        line("*.lan,!bad.lan", kind, blob),
        "@cert-authority " + line("*", kind, ca),
        "@revoked " + line("revoked.lan", kind, blob),
        line("revoked.lan", kind, blob),
        "garbage line",
        "host ssh-ed25519 !!notbase64!!",
    ]) + "\n")
    known = KnownHosts(path)
    assert known.check("cp1.lan", kind, blob).verdict == "ok"
    assert known.check("bad.lan", kind, blob).verdict == "unknown"
    assert known.check("other", kind, ca).verdict == "unknown"  # a CA key is not a host key
    assert known.check("revoked.lan", kind, blob).verdict == "revoked"


def test_add_appends_hashed_line_that_paramiko_and_openssh_find(tmp_path: Path) -> None:
    kind, blob = key()
    path = tmp_path / "sub" / "known_hosts"
    known = KnownHosts(path)
    known.add("[127.0.0.1]:2201", kind, blob)
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    assert text.startswith("|1|") and "127.0.0.1" not in text
    # Our own reader, a fresh one, and paramiko's (which looks up "[127.0.0.1]:2201").
    assert known.check("[127.0.0.1]:2201", kind, blob).verdict == "ok"
    assert KnownHosts(path).check("[127.0.0.1]:2201", kind, blob).verdict == "ok"
    entry = paramiko.HostKeys(str(path)).lookup("[127.0.0.1]:2201")
    assert entry is not None and entry[kind].asbytes() == blob
    assert paramiko.HostKeys(str(path)).lookup("127.0.0.1") is None
    if shutil.which("ssh-keygen"):
        found = subprocess.run(["ssh-keygen", "-F", "[127.0.0.1]:2201", "-f", str(path)], capture_output=True,
                               text=True, check=False)
        assert found.returncode == 0 and "found: line 1" in found.stdout


def test_add_plain_and_after_a_line_without_newline(tmp_path: Path) -> None:
    kind, blob = key()
    k2, b2 = key()
    path = tmp_path / "known_hosts"
    path.write_text(line("[127.0.0.1]:2201", kind, blob))  # no trailing newline
    KnownHosts(path).add("[127.0.0.1]:2202", k2, b2, hashed=False)
    lines = path.read_text().splitlines()
    assert lines[1] == line("[127.0.0.1]:2202", k2, b2)
    assert paramiko.HostKeys(str(path)).lookup("[127.0.0.1]:2202") is not None


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="no ssh-keygen")
def test_reads_what_ssh_keygen_hashes_and_removes(tmp_path: Path) -> None:
    kind, blob = key()
    path = tmp_path / "known_hosts"
    path.write_text(line("[127.0.0.1]:2201", kind, blob) + "\n" + line("other", kind, blob) + "\n")
    subprocess.run(["ssh-keygen", "-H", "-f", str(path)], capture_output=True, check=True)
    assert "127.0.0.1" not in path.read_text()
    assert KnownHosts(path).check("[127.0.0.1]:2201", kind, blob).verdict == "ok"
    # The fix a CHANGED key error suggests: ssh-keygen -R removes it, the host becomes unknown.
    subprocess.run(["ssh-keygen", "-R", "[127.0.0.1]:2201", "-f", str(path)], capture_output=True, check=True)
    assert KnownHosts(path).check("[127.0.0.1]:2201", kind, blob).verdict == "unknown"
    assert KnownHosts(path).check("other", kind, blob).verdict == "ok"


def test_fingerprint_matches_ssh_keygen(tmp_path: Path) -> None:
    kind, blob = key()
    if shutil.which("ssh-keygen") is None:
        pytest.skip("no ssh-keygen")
    pub = tmp_path / "k.pub"
    pub.write_text(f"{kind} {base64.b64encode(blob).decode()}\n")
    out = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True).stdout
    assert out.split()[1] == fingerprint(blob)


def test_missing_file_is_empty(tmp_path: Path) -> None:
    kind, blob = key()
    assert KnownHosts(tmp_path / "nope").check("x", kind, blob).verdict == "unknown"
