"""HostFacts: what one probe run learned about one machine (read-only, typed, JSON round-trip).

JSON uses the same field names as Python (snake_case): these are recorded facts for fixtures and
`preflight --json`, not part of the user's spec.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict

SudoState = Literal["root", "ok", "missing"]
# loaded: in /sys/module as a module; builtin: compiled into the kernel; available: a .ko exists
# (modprobe will load it); missing: none of these; unknown: no /lib/modules to tell.
ModuleState = Literal["loaded", "builtin", "available", "missing", "unknown"]
Reason = Literal["timeout", "refused", "unreachable", "dns", "auth", "host-key-unknown", "host-key-changed",
                 "ssh", "probe"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Interface(_Model):
    name: str
    mac: str | None = None
    virtual: bool = False  # /sys/devices/virtual/net/NAME: bridges, veths, tunnels (and container NICs)
    addresses: list[str] = []  # CIDR form, e.g. 192.168.10.11/24

    @property
    def ips(self) -> list[str]:
        return [a.split("/", 1)[0] for a in self.addresses]


class Listener(_Model):
    proto: Literal["tcp", "udp"]
    address: str
    port: int
    process: str | None = None  # None: not readable (no root/sudo) or a kernel socket (vxlan)


class HostKey(_Model):
    type: str
    sha256: str  # "SHA256:..." as OpenSSH prints it


class HostFacts(_Model):
    node: str
    target: str  # user@host:port actually used
    host_key: HostKey
    user: str
    sudo: SudoState
    hostname: str | None = None
    os_id: str | None = None
    os_version_id: str | None = None
    os_pretty_name: str | None = None
    machine: str | None = None  # uname -m
    arch: str | None = None  # Debian/Kubernetes name: amd64, arm64 ...
    kernel: str | None = None
    cpus: int | None = None
    memory_mb: int | None = None
    swap_mb: int | None = None  # total active swap
    var_free_mb: int | None = None
    cgroup_version: int | None = None
    product_uuid: str | None = None  # absent in containers and some VMs
    machine_id: str | None = None
    interfaces: list[Interface] = []
    default_route_interface: str | None = None
    address: str  # the node's address in the spec
    address_interface: str | None = None  # interface carrying it; None: not on this host
    clock_offset_s: float | None = None  # remote clock minus the controller's
    clock_uncertainty_s: float = 0.0  # half the round trip of the clock reading
    ports_known: bool = True  # False: neither ss nor /proc/net was readable
    listeners: list[Listener] = []  # only the ports Kubernetes and the CNI need
    modules: dict[str, ModuleState] = {}
    sysctls: dict[str, str | None] = {}
    kvm: bool = False  # /dev/kvm present
    virt_flag: str | None = None  # vmx (Intel VT-x) / svm (AMD-V) in /proc/cpuinfo
    versions: dict[str, str | None] = {}  # containerd, kubelet, kubeadm: None when not installed
    kubelet_conf: bool = False  # /etc/kubernetes/kubelet.conf: joined to a cluster
    admin_conf: bool = False  # /etc/kubernetes/admin.conf: a control plane was initialised here
    control_plane_complete: bool = False  # the kubeadm roles' marker: init or control plane join finished
    drift: dict[str, str] = {}  # what the roles manage, as `kind:name -> value` (plan/drift.py)
    resolv_conf: str | None = None  # the resolver file the kubelet gives pods
    nameservers: list[str] | None = None  # its nameservers; None: unknown
    probe_seconds: float = 0.0

    @property
    def address_on_host(self) -> bool:
        return self.address_interface is not None

    @property
    def is_member(self) -> bool:
        return self.kubelet_conf

    @property
    def macs(self) -> list[str]:
        """Every real MAC (loopback and all-zero ones left out), sorted."""
        return sorted({i.mac for i in self.interfaces if i.mac and i.mac != "00:00:00:00:00:00"})

    @property
    def identity_macs(self) -> list[str]:
        """MACs that identify the hardware: physical NICs; on a host with none (containers, some
        VMs) the default-route interface, so that something is recorded."""
        physical = sorted({i.mac for i in self.interfaces if i.mac and not i.virtual and i.name != "lo"})
        if physical:
            return physical
        route = next((i for i in self.interfaces if i.name == self.default_route_interface), None)
        return [route.mac] if route and route.mac else []

    def interface_of(self, ip: str) -> str | None:
        want = ipaddress.ip_address(ip)
        for iface in self.interfaces:
            for a in iface.ips:
                try:
                    if ipaddress.ip_address(a.split("%", 1)[0]) == want:
                        return iface.name
                except ValueError:
                    continue
        return None


class Unreachable(_Model):
    """A host that could not be probed: why, in words a user can act on."""

    node: str
    target: str
    reason: Reason
    message: str
    hint: str | None = None
    host_key: HostKey | None = None  # the key the host presented, when the failure came after it
