"""What a lab is made of (pure): its machines, their addresses on the lab network, its files."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from homelab_ctl.errors import LabError, UsageError

Role = Literal["control-plane", "worker"]
Driver = Literal["podman", "vm"]
DRIVERS: tuple[Driver, ...] = ("podman", "vm")

LABEL = "homelab-ctl.lab"  # on every container and network of a lab: its name
LABEL_ROLE = "homelab-ctl.lab.role"
LABEL_IP = "homelab-ctl.lab.ip"
LABEL_DIR = "homelab-ctl.lab.dir"
LABEL_VIP = "homelab-ctl.lab.vip"
MARKER = ".homelab-ctl-lab"  # in a lab directory: `lab down` may delete it

MAX_CONTROL_PLANES = 9
MAX_WORKERS = 50
# Host parts in the lab /24: control planes .11-.19, workers .21-.70, the VIP .200. Podman only
# hands out .1-.127 itself (--ip-range), so the VIP is never given to a container.
_CP_BASE, _WORKER_BASE, _VIP_HOST = 10, 20, 200
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")


@dataclass(frozen=True)
class Machine:
    name: str  # container name, host name and Kubernetes node name
    role: Role
    ip: str  # address on the lab network (the node address in the spec)
    ssh_port: int = 0  # on 127.0.0.1; 0 until the container exists
    state: str = ""  # podman's state: running, exited, ... ("" before it exists)


@dataclass(frozen=True)
class Lab:
    name: str
    directory: Path
    subnet: str
    vip: str | None
    machines: tuple[Machine, ...]
    driver: Driver = "podman"

    @property
    def network(self) -> str:
        return bridge_name(self.name) if self.driver == "vm" else network_name(self.name)

    @property
    def spec_path(self) -> Path:
        return self.directory / "cluster.yaml"

    @property
    def key_path(self) -> Path:
        return self.directory / "id_ed25519"

    @property
    def public_key_path(self) -> Path:
        return self.directory / "id_ed25519.pub"

    @property
    def known_hosts_path(self) -> Path:
        return self.directory / "known_hosts"

    @property
    def control_planes(self) -> list[Machine]:
        return [m for m in self.machines if m.role == "control-plane"]

    @property
    def workers(self) -> list[Machine]:
        return [m for m in self.machines if m.role == "worker"]

    def machine(self, name: str) -> Machine:
        """A machine by its full name (lab-cp1) or its short one (cp1)."""
        for m in self.machines:
            if name in (m.name, m.name.removeprefix(f"{self.name}-")):
                return m
        raise LabError(f"lab {self.name} has no machine {name} "
                       f"(it has {', '.join(m.name for m in self.machines)})")

    def with_machine(self, machine: Machine) -> Lab:
        return replace(self, machines=tuple(machine if m.name == machine.name else m for m in self.machines))


def network_name(lab: str) -> str:
    return f"{lab}-net"


def bridge_name(lab: str) -> str:
    """The Linux bridge of a VM lab: interface names have at most 15 characters, lab names 40."""
    return "hlv" + hashlib.sha256(lab.encode()).hexdigest()[:8]


def tap_name(lab: str, machine: Machine) -> str:
    """A VM's tap device on its lab's bridge, e.g. hlv1a2b3c4dc1 (cp1) or hlv1a2b3c4dw12 (w12)."""
    short = machine.name.removeprefix(f"{lab}-")
    return bridge_name(lab) + ("c" if short.startswith("cp") else "w") + short.lstrip("cpw")


def check_shape(name: str, control_planes: int, workers: int) -> None:
    """Refuse what would give an invalid spec, before anything is created."""
    if not _NAME.match(name):
        raise UsageError(f"lab name '{name}' is not valid: lower-case letters, digits and '-', "
                         "at most 40 characters, starting and ending with a letter or digit")
    if not 1 <= control_planes <= MAX_CONTROL_PLANES or control_planes % 2 == 0:
        raise UsageError(f"--control-planes {control_planes}: use an odd number from 1 to {MAX_CONTROL_PLANES} "
                         "(etcd needs a majority)")
    if not 0 <= workers <= MAX_WORKERS:
        raise UsageError(f"--workers {workers}: use 0 to {MAX_WORKERS}")


def plan(name: str, control_planes: int, workers: int, subnet: str, directory: Path) -> Lab:
    """The lab to create: machine names and addresses in the subnet (a /24), and the VIP."""
    check_shape(name, control_planes, workers)
    net = ipaddress.IPv4Network(subnet)
    if net.prefixlen != 24:
        raise ValueError(f"lab subnets are /24, got {subnet}")
    machines = [Machine(f"{name}-cp{i}", "control-plane", str(net[_CP_BASE + i])) for i in range(1, control_planes + 1)]
    machines += [Machine(f"{name}-w{i}", "worker", str(net[_WORKER_BASE + i])) for i in range(1, workers + 1)]
    vip = str(net[_VIP_HOST]) if control_planes > 1 else None
    return Lab(name, directory, str(net), vip, tuple(machines))


def mac_for(ip: str) -> str:
    """A fixed, locally administered MAC per lab address. A machine that restarts with a new
    random MAC stays unreachable until the host's stale ARP entry expires (about 30-50 s)."""
    octets = ipaddress.IPv4Address(ip).packed
    return "02:4c:61:" + ":".join(f"{b:02x}" for b in octets[1:])


def ip_range(subnet: str) -> str:
    """The part of the subnet podman may hand out by itself (the lower half: never the VIP)."""
    net = ipaddress.IPv4Network(subnet)
    return str(next(net.subnets(prefixlen_diff=1)))


def sort_key(machine: Machine) -> tuple[int, int, str]:
    """Control planes first, then workers, each in number order (cp2 before cp10)."""
    number = re.search(r"(\d+)$", machine.name)
    return (0 if machine.role == "control-plane" else 1, int(number.group(1)) if number else 0, machine.name)
