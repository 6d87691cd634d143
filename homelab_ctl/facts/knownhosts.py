"""OpenSSH known_hosts files: verify a host key, append a new one (hashed, OpenSSH format).

Own reader instead of paramiko.SSHClient's: SSHClient trusts only the first key type it finds and
rewrites the whole file on save (dropping comments and @cert-authority lines); here the file is
only ever appended to, hashed and plain entries both match, and a mismatch names the line.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Verdict = Literal["ok", "unknown", "changed", "revoked"]
_LOCK = threading.Lock()  # nodes are probed in threads and may share one known_hosts file

# Host key algorithms to ask for when the known key has this type (RSA keys are negotiated as SHA-2).
ALGORITHMS = {
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256"),
    "ssh-ed25519": ("ssh-ed25519",),
    "ecdsa-sha2-nistp256": ("ecdsa-sha2-nistp256",),
    "ecdsa-sha2-nistp384": ("ecdsa-sha2-nistp384",),
    "ecdsa-sha2-nistp521": ("ecdsa-sha2-nistp521",),
}


def host_pattern(host: str, port: int) -> str:
    """The name OpenSSH files a host under: `host`, or `[host]:port` for any other port than 22."""
    return host if port == 22 else f"[{host}]:{port}"


def fingerprint(key_blob: bytes) -> str:
    """SHA256:... as `ssh-keygen -l` prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key_blob).digest()).decode().rstrip("=")


def hash_name(name: str, salt: bytes | None = None) -> str:
    """OpenSSH's HashKnownHosts form: |1|base64(salt)|base64(HMAC-SHA1(salt, name))."""
    salt = salt if salt is not None else os.urandom(20)
    mac = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(mac).decode()}"


def _matches(pattern: str, name: str) -> bool:
    if pattern.startswith("|1|"):
        try:
            salt = base64.b64decode(pattern.split("|")[2])
        except (IndexError, ValueError):
            return False
        return hmac.compare_digest(hash_name(name, salt), pattern)
    return _glob(pattern).fullmatch(name.lower()) is not None


@functools.lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    # OpenSSH patterns know only * and ?; fnmatch would read "[127.0.0.1]:2222" as a character class.
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower()))


@dataclass(frozen=True)
class Entry:
    line: int
    key_type: str
    blob: bytes
    marker: str | None  # @revoked / @cert-authority

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.blob)


@dataclass(frozen=True)
class Check:
    verdict: Verdict
    entries: list[Entry]  # the entries for this host (all types)

    @property
    def lines(self) -> list[int]:
        return [e.line for e in self.entries]


class KnownHosts:
    """One known_hosts file, read once per run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: list[tuple[list[str], Entry]] = []
        self._load()

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return
        for number, raw in enumerate(text.splitlines(), 1):
            parts = raw.split()
            if not parts or parts[0].startswith("#"):
                continue
            marker = None
            if parts[0].startswith("@"):
                marker, parts = parts[0], parts[1:]
            if len(parts) < 3:
                continue
            try:
                blob = base64.b64decode(parts[2], validate=True)
            except ValueError:
                continue
            self._entries.append((parts[0].split(","), Entry(number, parts[1], blob, marker)))

    def entries_for(self, name: str) -> list[Entry]:
        out = []
        for patterns, entry in self._entries:
            if entry.marker == "@cert-authority":
                continue  # CA lines sign certificates; plain host keys are never checked against them
            # A negated pattern (!host) that matches excludes the line, as in OpenSSH.
            if any(p.startswith("!") and _matches(p[1:], name) for p in patterns):
                continue
            if any(not p.startswith("!") and _matches(p, name) for p in patterns):
                out.append(entry)
        return out

    def known_types(self, name: str) -> list[str]:
        return [e.key_type for e in self.entries_for(name) if e.marker is None]

    def check(self, name: str, key_type: str, blob: bytes) -> Check:
        entries = self.entries_for(name)
        if any(e.marker == "@revoked" and e.blob == blob for e in entries):
            return Check("revoked", entries)
        plain = [e for e in entries if e.marker is None]
        if any(e.key_type == key_type and e.blob == blob for e in plain):
            return Check("ok", plain)
        # Any other known key for this name -- of the same type or not (the server stopped offering
        # the known type) -- means the host is no longer the one that was recorded.
        return Check("changed" if plain else "unknown", plain)

    def add(self, name: str, key_type: str, blob: bytes, hashed: bool = True) -> None:
        """Append one line (creating the file 0600 and its directory 0700 when missing)."""
        host = hash_name(name) if hashed else name
        line = f"{host} {key_type} {base64.b64encode(blob).decode()}\n"
        with _LOCK:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                # Never glue our line to a last line without a newline.
                if fh.tell() > 0 and not self.path.read_bytes().endswith(b"\n"):
                    fh.write("\n")
                fh.write(line)
            number = len(self.path.read_text(encoding="utf-8", errors="replace").splitlines())
            self._entries.append(([host], Entry(number, key_type, blob, None)))
