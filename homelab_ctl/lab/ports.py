"""Host ports on 127.0.0.1 for what a lab publishes: every machine's SSH, a VM's API server.

They are chosen below the kernel's ephemeral port range. podman publishes a port as a NAT rule, not
as a socket, so a program that binds port 0 could be given the same port and never see a
connection: it would go to the lab machine (CI once failed that way, a test's API server got a
running lab machine's SSH port and its client was refused). Pick and publish (or record) under
network.allocation_lock().
"""

from __future__ import annotations

import json
import random
import shutil
import socket
from collections.abc import Iterable
from pathlib import Path

from homelab_ctl.errors import LabError

RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_EPHEMERAL = (32768, 60999)  # Linux's default
FLOOR = 20000  # below: ports services commonly use
TRIES = 200


def ephemeral_range(path: Path = RANGE_FILE) -> tuple[int, int]:
    try:
        low, high = (int(v) for v in path.read_text(encoding="ascii").split())
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL
    return (low, high) if 0 < low <= high <= 65535 else DEFAULT_EPHEMERAL


def candidates(ephemeral: tuple[int, int]) -> range:
    """Ports outside the ephemeral range; with a range that leaves no room, any unprivileged port."""
    low, high = ephemeral
    if low - FLOOR >= 1000:
        return range(FLOOR, low)
    if low - 1024 >= 1000:
        return range(1024, low)
    if 65535 - high >= 1000:
        return range(high + 1, 65536)
    return range(1024, 65536)


def bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def podman_published() -> set[int]:
    """Host ports of every podman container, running or not: a stopped one gets its port back."""
    from homelab_ctl.lab import podman

    if shutil.which("podman") is None:
        return set()
    try:
        containers = json.loads(podman.run(["ps", "-a", "--format", "json"], check=False).stdout or "[]")
    except (ValueError, LabError):
        return set()
    return {int(p["host_port"]) for c in containers or [] for p in c.get("Ports") or [] if p.get("host_port")}


def pick(taken: Iterable[int] = (), rng: random.Random | None = None) -> int:
    """A random free port outside the ephemeral range, not in taken (ports labs hold while stopped)."""
    pool = candidates(ephemeral_range())
    excluded = set(taken)
    rng = rng or random.SystemRandom()
    for _ in range(TRIES):
        port = rng.choice(pool)
        if port not in excluded and bindable(port):
            return port
    raise LabError(f"no free port on 127.0.0.1 in {pool.start}-{pool.stop - 1} for a lab machine "
                   f"({TRIES} tries): stop other labs or services there")
