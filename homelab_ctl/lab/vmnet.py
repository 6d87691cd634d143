"""The private network of a VM lab: a Linux bridge with one tap device per VM (as root).

The bridge has no address on the host: the VMs reach each other and nothing else (their other NIC
is qemu's restricted user network, which only carries the SSH port forward).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from homelab_ctl.errors import LabError

SYS_NET = Path("/sys/class/net")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=60, check=False)
    except FileNotFoundError:
        raise LabError("ip not found (apt-get install iproute2)") from None
    if check and proc.returncode != 0:
        raise LabError(f"ip {' '.join(args)} failed: {(proc.stderr or proc.stdout).strip()}")
    return proc


def exists(device: str) -> bool:
    return (SYS_NET / device).exists()


def create_bridge(bridge: str) -> None:
    if exists(bridge):
        raise LabError(f"network device {bridge} already exists (left by a lab? `homelab-ctl lab down`)")
    _ip("link", "add", bridge, "type", "bridge")
    # No IPv6 link-local address either: the host sends nothing onto the lab network.
    disable = Path(f"/proc/sys/net/ipv6/conf/{bridge}/disable_ipv6")
    if disable.exists():
        disable.write_text("1\n")
    _ip("link", "set", bridge, "up")


def add_tap(bridge: str, tap: str) -> None:
    """A persistent tap on the bridge: qemu opens it by name, and it survives a VM restart."""
    if not exists(tap):
        _ip("tuntap", "add", "dev", tap, "mode", "tap")
    _ip("link", "set", tap, "master", bridge)
    _ip("link", "set", tap, "up")


def remove(devices: Sequence[str]) -> list[str]:
    """Delete these devices when present; the names removed."""
    removed = []
    for device in devices:
        if exists(device):
            _ip("link", "del", device, check=False)
            removed.append(device)
    return removed


def devices_with_prefix(prefix: str) -> list[str]:
    """Taps and bridge of a lab (all named after its bridge), also when its state file is lost."""
    return sorted(p.name for p in SYS_NET.iterdir() if p.name.startswith(prefix)) if SYS_NET.is_dir() else []
