"""The lab network: one podman bridge network per lab (names resolve between its machines) on a
/24 that no other podman network and no host route uses."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import socket
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

from homelab_ctl.errors import LabError
from homelab_ctl.lab import paths, podman
from homelab_ctl.lab.model import LABEL, LABEL_DIR, LABEL_VIP, Lab, ip_range

POOL = ipaddress.IPv4Network("10.90.0.0/16")


def pick_subnet(used: Iterable[ipaddress.IPv4Network], pool: ipaddress.IPv4Network = POOL) -> ipaddress.IPv4Network:
    """The first /24 of the pool that overlaps nothing in use."""
    taken = list(used)
    for candidate in pool.subnets(new_prefix=24):
        if not any(candidate.overlaps(net) for net in taken):
            return candidate
    raise LabError(f"no free /24 left in {pool} for a lab network: remove labs with `homelab-ctl lab down`")


def parse_routes(text: str) -> list[ipaddress.IPv4Network]:
    """Destinations of /proc/net/route (without the default route)."""
    nets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        dest, mask = (socket.inet_ntoa(struct.pack("<L", int(f, 16))) for f in (fields[1], fields[7]))
        if mask == "0.0.0.0":
            continue
        nets.append(ipaddress.IPv4Network(f"{dest}/{mask}", strict=False))
    return nets


def podman_subnets(networks: list[dict[str, object]]) -> list[ipaddress.IPv4Network]:
    """IPv4 subnets of `podman network ls --format json`."""
    nets = []
    for network in networks:
        subnets = network.get("subnets") or []
        assert isinstance(subnets, list)
        for entry in subnets:
            net = ipaddress.ip_network(str(entry.get("subnet", "")), strict=False)
            if isinstance(net, ipaddress.IPv4Network):
                nets.append(net)
    return nets


def used_subnets() -> list[ipaddress.IPv4Network]:
    routes = Path("/proc/net/route").read_text() if Path("/proc/net/route").exists() else ""
    return podman_subnets(podman.json_out(["network", "ls", "--format", "json"])) + parse_routes(routes)


@contextlib.contextmanager
def allocation_lock() -> Iterator[None]:
    """Two `lab up` at once must not pick the same subnet or host port (lab/ports.py)."""
    with (paths.cache_dir() / "lab-network.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def create(lab: Lab) -> None:
    args = ["network", "create", "--subnet", lab.subnet, "--ip-range", ip_range(lab.subnet),
            "--label", f"{LABEL}={lab.name}", "--label", f"{LABEL_DIR}={lab.directory}"]
    if lab.vip:
        args += ["--label", f"{LABEL_VIP}={lab.vip}"]
    podman.run([*args, lab.network])


def inspect(name: str) -> dict[str, object] | None:
    """`podman network inspect` of a lab's network; None when it does not exist."""
    if not podman.exists("network", name):
        return None
    data = podman.json_out(["network", "inspect", name])
    return data[0] if data else None


def remove(name: str) -> None:
    podman.run(["network", "rm", name])
