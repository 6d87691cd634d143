"""Preflight checks: pure functions over facts (no SSH), so they are tested from recorded JSON.

    evaluate(cluster, results, recorded) -> [Finding]

Per-host checks look at one HostFacts; cross-host checks (duplicate identities) at all of them;
identity checks compare with the spec's pins and with what was recorded on the last good run.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping

from homelab_ctl.addons import catalog
from homelab_ctl.facts.models import HostFacts, Unreachable
from homelab_ctl.preflight.findings import Finding
from homelab_ctl.preflight.identity import Recorded
from homelab_ctl.spec import Cluster, Node

SUPPORTED_OS = {("debian", "12"): "Debian 12", ("ubuntu", "22.04"): "Ubuntu 22.04",
                ("ubuntu", "24.04"): "Ubuntu 24.04"}
SUPPORTED_ARCH = ("amd64", "arm64")
CP_MIN_CPUS = 2
CP_MIN_MEMORY_MB = 1700  # kubeadm's own preflight limit for a control plane
WORKER_LOW_MEMORY_MB = 1024
VAR_LOW_MB = 10 * 1024  # the kubelet evicts pods below 10-15 % free; images alone take GBs
MAX_CLOCK_SKEW_S = 2.0  # etcd and TLS start to fail beyond a few seconds
# Process names as ss shows them (the kernel truncates comm to 15 characters).
KUBE_PROCESSES = frozenset({"kube-apiserver", "etcd", "kubelet", "kube-controller", "kube-controller-manager",
                            "kube-scheduler", "kube-proxy", "flanneld", "kube-vip"})
CONTROL_PLANE_PORTS = ((6443, "tcp", "kube-apiserver"), (2379, "tcp", "etcd client"),
                       (2380, "tcp", "etcd peer"), (10257, "tcp", "kube-controller-manager"),
                       (10259, "tcp", "kube-scheduler"))
NODE_PORTS = ((10250, "tcp", "kubelet"),)
CNI_PORTS = {"vxlan": ((8472, "udp", "Flannel VXLAN"),),
             "wireguard": ((51820, "udp", "Flannel WireGuard"),),
             "host-gw": ()}

Results = Mapping[str, HostFacts | Unreachable]


def _f(host: str, check: str, severity: str, detail: str, fix: str | None = None) -> Finding:
    return Finding(host, check, severity, detail, fix)  # type: ignore[arg-type]


def evaluate(cluster: Cluster, results: Results, recorded: Mapping[str, Recorded] | None = None,
             *, identity_dir: str | None = None) -> list[Finding]:
    """Every finding for every node, in spec order (per node: reachability, host checks, identity)."""
    recorded = recorded or {}
    nodes = {n.name: n for n in cluster.spec.nodes}
    facts = {n: r for n, r in results.items() if isinstance(r, HostFacts)}
    cross = list(duplicates(facts))
    out: list[Finding] = []
    for name, node in nodes.items():
        result = results.get(name)
        if result is None:
            continue
        if isinstance(result, Unreachable):
            out.append(unreachable(result))
            continue
        out.append(reached(result))
        for check in HOST_CHECKS:
            out.extend(check(cluster, node, result))
        ident = [f for f in cross if f.host == name]
        ident += pins(node, result, cluster)
        if name in recorded:
            ident += changed_since(recorded[name], result, identity_dir)
        out.extend(ident or [_identity_ok(result, recorded=name in recorded)])
    return out


# -- reachability -------------------------------------------------------------------------------

def unreachable(u: Unreachable) -> Finding:
    words = {"timeout": "timed out", "refused": "connection refused", "unreachable": "no route",
             "dns": "name not resolved", "auth": "authentication failed", "host-key-unknown": "unknown host key",
             "host-key-changed": "host key CHANGED", "ssh": "SSH failed", "probe": "probe failed"}
    return _f(u.node, "ssh", "error", f"unreachable ({words.get(u.reason, u.reason)}): {u.message}", u.hint)


def reached(f: HostFacts) -> Finding:
    return _f(f.node, "ssh", "ok", f"{f.target}, host key {f.host_key.type} {f.host_key.sha256}")


# -- one host -----------------------------------------------------------------------------------

Check = Callable[[Cluster, Node, HostFacts], Iterator[Finding]]


def os_release(cluster: Cluster, node: Node, f: HostFacts) -> Iterator[Finding]:
    name = f.os_pretty_name or f"{f.os_id} {f.os_version_id}"
    if (f.os_id, f.os_version_id) in SUPPORTED_OS:
        yield _f(f.node, "os", "ok", name)
    else:
        yield _f(f.node, "os", "error", f"{name} is not supported",
                 f"install one of {', '.join(SUPPORTED_OS.values())}")
    if f.arch in SUPPORTED_ARCH:
        yield _f(f.node, "arch", "ok", f"{f.arch} ({f.kernel})")
    else:
        yield _f(f.node, "arch", "error", f"architecture {f.machine or 'unknown'} is not supported",
                 f"Kubernetes packages and the add-ons are built for {' and '.join(SUPPORTED_ARCH)}")


def resources(cluster: Cluster, node: Node, f: HostFacts) -> Iterator[Finding]:
    if f.cpus is None:
        yield _f(f.node, "cpu", "warning", "could not count the CPUs")
    elif node.is_control_plane and f.cpus < CP_MIN_CPUS:
        yield _f(f.node, "cpu", "error", f"{f.cpus} CPU on a control plane (kubeadm needs {CP_MIN_CPUS})",
                 "give the machine more cores, or make it a worker")
    else:
        yield _f(f.node, "cpu", "ok", f"{f.cpus} CPUs")
    if f.memory_mb is None:
        yield _f(f.node, "memory", "warning", "could not read the memory size")
    elif node.is_control_plane and f.memory_mb < CP_MIN_MEMORY_MB:
        yield _f(f.node, "memory", "error",
                 f"{f.memory_mb} MB of memory on a control plane (kubeadm needs {CP_MIN_MEMORY_MB} MB)",
                 "add memory, or make it a worker")
    elif f.memory_mb < WORKER_LOW_MEMORY_MB:
        yield _f(f.node, "memory", "warning", f"only {f.memory_mb} MB of memory: little room for pods")
    else:
        yield _f(f.node, "memory", "ok", f"{f.memory_mb} MB")
    if f.var_free_mb is not None and f.var_free_mb < VAR_LOW_MB:
        yield _f(f.node, "disk", "warning", f"{f.var_free_mb} MB free on /var (images and etcd live there)",
                 "free space or grow /var: the kubelet evicts pods when the disk runs low")
    elif f.var_free_mb is not None:
        yield _f(f.node, "disk", "ok", f"{f.var_free_mb // 1024} GB free on /var")
    if f.swap_mb:
        yield _f(f.node, "swap", "warning", f"swap is on ({f.swap_mb} MB): it will be turned off",
                 "nothing to do: prepare disables it (swapoff and /etc/fstab)")


def kernel(cluster: Cluster, node: Node, f: HostFacts) -> Iterator[Finding]:
    if f.cgroup_version == 1:
        k8s = cluster.spec.kubernetes
        fix = "boot with cgroup v2: systemd.unified_cgroup_hierarchy=1 on the kernel command line"
        if catalog.minor(k8s.version) < (1, 35):
            yield _f(f.node, "cgroup", "warning", "cgroup v1 (Kubernetes has deprecated it)", fix)
        elif k8s.fail_cgroup_v1:
            # The kubelet would exit at start and kubeadm init/join time out: stop before touching anything.
            yield _f(f.node, "cgroup", "error",
                     f"cgroup v1: the kubelet of Kubernetes {k8s.version} refuses to run on it",
                     f"{fix}, or set spec.kubernetes.failCgroupV1: false to run on cgroup v1 anyway")
        else:
            yield _f(f.node, "cgroup", "warning",
                     "cgroup v1, allowed by spec.kubernetes.failCgroupV1: false (deprecated upstream)", fix)
    elif f.cgroup_version is None:
        yield _f(f.node, "cgroup", "warning", "could not tell the cgroup version")
    wanted = ["overlay", "br_netfilter"]
    if cluster.spec.network.flannel.backend == "vxlan":
        wanted.append("vxlan")
    missing = [m for m in wanted if f.modules.get(m) == "missing"]
    unknown = [m for m in wanted if f.modules.get(m) in (None, "unknown")]
    states = ", ".join(f"{m} {f.modules.get(m, 'unknown')}" for m in wanted)
    if missing:
        yield _f(f.node, "modules", "error", f"kernel module{'s' if len(missing) > 1 else ''} "
                 f"{', '.join(missing)} not available ({states})",
                 "install the kernel's extra modules package (e.g. linux-modules-extra-$(uname -r))")
    elif unknown:
        yield _f(f.node, "modules", "warning", f"could not tell whether {', '.join(unknown)} exist ({states})")
    else:
        yield _f(f.node, "modules", "ok", states)
    off = [k for k, v in f.sysctls.items() if v != "1"]
    detail = "all set" if not off else f"prepare sets {', '.join(off)} = 1"
    yield _f(f.node, "sysctl", "ok", detail)


def network(cluster: Cluster, node: Node, f: HostFacts) -> Iterator[Finding]:
    others = [a for i in f.interfaces if i.name != "lo" for a in i.addresses]
    if f.address_interface is None:
        yield _f(f.node, "address", "error",
                 f"{node.address} (the node's address in the spec) is on none of its interfaces; "
                 f"it has {', '.join(others) or 'no address'}",
                 "set the node's address to one of the host's own addresses (ssh.host can stay different)")
        return
    yield _f(f.node, "address", "ok", f"{node.address} on {f.address_interface}")
    flannel = cluster.spec.network.flannel
    names = [i.name for i in f.interfaces]
    if flannel.iface is not None and flannel.iface not in names:
        yield _f(f.node, "flannel-iface", "error", f"network.flannel.iface {flannel.iface} does not exist here "
                 f"(interfaces: {', '.join(names)})", "use an interface name that all nodes have, or ifaceRegex")
    elif flannel.iface_regex is not None and not any(re.match(flannel.iface_regex, n) for n in names):
        yield _f(f.node, "flannel-iface", "error", f"no interface matches network.flannel.ifaceRegex "
                 f"{flannel.iface_regex} (interfaces: {', '.join(names)})")
    elif flannel.iface is None and flannel.iface_regex is None and f.default_route_interface not in (
            None, f.address_interface):
        yield _f(f.node, "flannel-iface", "warning",
                 f"{node.address} is on {f.address_interface} but the default route uses "
                 f"{f.default_route_interface}: Flannel would use the latter",
                 f"set network.flannel.iface: {f.address_interface}")


def dns(cluster: Cluster, node: Node, f: HostFacts) -> Iterator[Finding]:
    """CoreDNS forwards names outside the cluster to the nameservers of the resolver file the kubelet
    gives pods; it exits at start when that file names none, and its loop check stops it when they
    are the node's own loopback (the pod's loopback is CoreDNS itself)."""
    if f.nameservers is None:
        return
    where = f.resolv_conf or "/etc/resolv.conf"
    if not f.nameservers:
        yield _f(f.node, "dns", "error", f"{where} names no nameserver: CoreDNS exits on a node without one",
                 f"add a nameserver line to {where} (your router, or any resolver the node reaches)")
        return
    loopback = [ns for ns in f.nameservers if _is_loopback(ns)]
    if len(loopback) == len(f.nameservers):
        yield _f(f.node, "dns", "warning", f"{where} names only the node's loopback ({', '.join(loopback)}): "
                 "CoreDNS forwarding there reaches itself and stops on its loop check",
                 "name a resolver outside the node in that file")
        return
    yield _f(f.node, "dns", "ok", f"{where}: {', '.join(f.nameservers)}")


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def clock(cluster: Cluster, node: Node, f: HostFacts) -> Iterator[Finding]:
    if f.clock_offset_s is None:
        yield _f(f.node, "clock", "warning", "could not read the clock")
        return
    shown = f"{f.clock_offset_s:+.3f} s (±{f.clock_uncertainty_s:.3f} s) against this machine"
    if abs(f.clock_offset_s) - f.clock_uncertainty_s > MAX_CLOCK_SKEW_S:
        yield _f(f.node, "clock", "error", f"clock off by {shown}",
                 "enable time sync on every node (systemd-timesyncd or chrony): etcd and TLS need it")
    else:
        yield _f(f.node, "clock", "ok", shown)


def node_ports(cluster: Cluster, node: Node) -> list[tuple[int, str, str]]:
    wanted = list(NODE_PORTS) + list(CNI_PORTS.get(cluster.spec.network.flannel.backend, ()))
    if node.is_control_plane:
        wanted = list(CONTROL_PLANE_PORTS) + wanted
    return wanted


def ports(cluster: Cluster, node: Node, f: HostFacts) -> Iterator[Finding]:
    if not f.ports_known:
        yield _f(f.node, "ports", "warning", "could not list listening ports (no ss, no /proc/net)")
        return
    busy: list[str] = []
    problems = 0
    for port, proto, what in node_ports(cluster, node):
        holders = [x for x in f.listeners if x.port == port and x.proto == proto]
        if not holders:
            continue
        procs = sorted({x.process for x in holders if x.process})
        label = f"{port}/{proto} ({what})"
        busy.append(label)
        if procs and all(p in KUBE_PROCESSES for p in procs):
            if f.is_member:
                continue  # our own cluster running: expected
            problems += 1
            yield _f(f.node, "ports", "warning", f"{label} is held by {', '.join(procs)} but the node is not a "
                     "cluster member (leftover of an earlier install?)", "homelab-ctl reset, or stop it")
        elif procs:
            problems += 1
            yield _f(f.node, "ports", "error", f"{label} is in use by {', '.join(procs)}",
                     f"stop or reconfigure {', '.join(procs)}: Kubernetes needs this port")
        elif f.is_member:
            continue  # kernel sockets (the VXLAN device) or unreadable owners on a cluster member
        else:
            problems += 1
            yield _f(f.node, "ports", "warning", f"{label} is in use by a process that could not be identified",
                     "run preflight as root or with sudo to see the owner")
    if not busy:
        yield _f(f.node, "ports", "ok", "needed ports are free")
    elif f.is_member and not problems:
        yield _f(f.node, "ports", "ok", f"in use by this cluster: {', '.join(busy)}")


def access(cluster: Cluster, node: Node, f: HostFacts) -> Iterator[Finding]:
    if f.sudo == "root":
        yield _f(f.node, "sudo", "ok", "logged in as root")
    elif f.sudo == "ok":
        yield _f(f.node, "sudo", "ok", f"{f.user} has passwordless sudo")
    else:
        yield _f(f.node, "sudo", "error", f"{f.user} cannot sudo without a password",
                 f"on the node: echo '{f.user} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/{f.user}, "
                 "or use ssh.user: root")


def kvm(cluster: Cluster, node: Node, f: HostFacts) -> Iterator[Finding]:
    kubevirt = cluster.spec.addons.kubevirt
    if kubevirt is None:
        return
    if f.kvm:
        yield _f(f.node, "kvm", "ok", f"/dev/kvm present ({f.virt_flag or 'no vmx/svm flag visible'})")
        return
    if f.virt_flag:
        fix = f"load the module: modprobe kvm_{'intel' if f.virt_flag == 'vmx' else 'amd'}"
    else:
        fix = "enable VT-x / AMD-V in the firmware (or nested virtualisation on the hypervisor)"
    if kubevirt.emulation == "never":
        yield _f(f.node, "kvm", "error", "no /dev/kvm and addons.kubevirt.emulation is never", fix)
    elif kubevirt.emulation == "always":
        yield _f(f.node, "kvm", "ok", "no /dev/kvm (emulation: always)")
    else:
        yield _f(f.node, "kvm", "warning", "no /dev/kvm: KubeVirt will use software emulation (slow)", fix)


def software(cluster: Cluster, node: Node, f: HostFacts) -> Iterator[Finding]:
    want = catalog.minor(cluster.spec.kubernetes.version)
    installed = {t: v for t, v in f.versions.items() if v}
    for tool in ("kubelet", "kubeadm"):
        version = installed.get(tool)
        if version and version != "unknown" and _minor(version) not in (want, None):
            yield _f(f.node, "versions", "warning",
                     f"{tool} {version} is installed, the spec asks for {cluster.spec.kubernetes.version}",
                     "homelab-ctl upgrades one minor version at a time")
    if f.is_member:
        detail = "already a cluster member (/etc/kubernetes/kubelet.conf)"
        yield _f(f.node, "member", "ok", detail + (f", kubelet {installed['kubelet']}" if "kubelet" in installed
                                                    else ""))


def _minor(version: str) -> tuple[int, int] | None:
    m = re.match(r"v?(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else None


HOST_CHECKS: tuple[Check, ...] = (os_release, resources, kernel, network, dns, clock, ports, access, kvm, software)


# -- identity -----------------------------------------------------------------------------------

def duplicates(facts: Mapping[str, HostFacts]) -> Iterator[Finding]:
    """The same product_uuid, machine-id or MAC on several nodes: cloned VMs or images."""
    fields: list[tuple[str, str, Callable[[HostFacts], list[str]], str]] = [
        ("product_uuid", "identity.duplicate-product-uuid", lambda f: [f.product_uuid] if f.product_uuid else [],
         "a cloned VM or a board without its own DMI UUID: give each VM a new SMBIOS UUID"),
        ("machine-id", "identity.duplicate-machine-id", lambda f: [f.machine_id] if f.machine_id else [],
         "a cloned image: on the clone run rm -f /etc/machine-id /var/lib/dbus/machine-id && "
         "systemd-machine-id-setup, then reboot"),
        ("MAC", "identity.duplicate-mac", lambda f: f.macs,
         "a cloned VM: give its NICs new MAC addresses"),
    ]
    for label, check, values, fix in fields:
        owners: dict[str, list[str]] = defaultdict(list)
        for name, f in facts.items():
            for value in values(f):
                owners[value].append(name)
        for value, names in owners.items():
            if len(names) < 2:
                continue
            for name in names:
                peers = [n for n in names if n != name]
                yield _f(name, check, "error", f"{label} {value} is also the {label} of {', '.join(peers)} "
                         "(kubeadm needs it unique per node)", fix)


def pins(node: Node, f: HostFacts, cluster: Cluster) -> Iterator[Finding]:
    """The identity written in the spec (node.identity) must still be the machine's."""
    pin = node.identity
    if pin is None:
        return
    index = next(i for i, n in enumerate(cluster.spec.nodes) if n.name == node.name)
    where = f"spec.nodes[{index}].identity"
    if pin.product_uuid is not None and pin.product_uuid != f.product_uuid:
        now = f.product_uuid or "unreadable"
        yield _f(f.node, "identity.pin", "error",
                 f"{f.node}'s board changed: product_uuid is {now}, the spec pins {pin.product_uuid}",
                 f"if the board was replaced on purpose, update {where}.productUuid")
    if pin.machine_id is not None and pin.machine_id != f.machine_id:
        yield _f(f.node, "identity.pin", "error",
                 f"{f.node} was reinstalled or replaced: machine-id is {f.machine_id or 'missing'}, "
                 f"the spec pins {pin.machine_id}", f"if that was on purpose, update {where}.machineId")
    gone = sorted(set(pin.macs) - set(f.macs))
    if gone:
        yield _f(f.node, "identity.pin", "error",
                 f"{f.node}'s network card changed: pinned MAC {', '.join(gone)} not found "
                 f"(it has {', '.join(f.macs) or 'none'})", f"if the NIC was replaced on purpose, update {where}.macs")


def changed_since(rec: Recorded, f: HostFacts, identity_dir: str | None) -> Iterator[Finding]:
    """Compare with the identity recorded on the last run that passed."""
    forget = (f"rm {identity_dir}/{f.node}.json" if identity_dir
              else f"remove the recorded identity of {f.node} in the state dir")
    when = f" (recorded {rec.recorded_at})" if rec.recorded_at else ""
    found = False
    if rec.product_uuid and f.product_uuid and rec.product_uuid != f.product_uuid:
        found = True
        yield _f(f.node, "identity.changed", "error",
                 f"{f.node}'s board changed: product_uuid was {rec.product_uuid}{when}, now {f.product_uuid}",
                 f"if {f.node} was replaced on purpose: {forget}, then re-run")
    elif rec.machine_id and rec.machine_id != f.machine_id:
        found = True
        same_board = rec.product_uuid is not None and rec.product_uuid == f.product_uuid
        what = ("was reinstalled (same board, new machine-id)" if same_board
                else "is a different machine or was reinstalled")
        yield _f(f.node, "identity.changed", "error",
                 f"{f.node} {what}: machine-id was {rec.machine_id}{when}, now {f.machine_id or 'missing'}",
                 f"if that was on purpose: {forget}, then re-run (the node will be joined afresh)")
    if rec.macs and not found:
        gone, new = sorted(set(rec.macs) - set(f.macs)), sorted(set(f.identity_macs) - set(rec.macs))
        if gone:
            found = True
            yield _f(f.node, "identity.changed-mac", "warning",
                     f"{f.node}'s network card changed: {', '.join(gone)} gone"
                     + (f", {', '.join(new)} new" if new else "") + when,
                     "update DHCP reservations keyed by MAC; the record is updated by this run")
    if rec.host_key and rec.host_key.sha256 != f.host_key.sha256 and not found:
        yield _f(f.node, "identity.changed-host-key", "warning",
                 f"{f.node}'s SSH host key changed since it was recorded: was {rec.host_key.type} "
                 f"{rec.host_key.sha256}{when}, now {f.host_key.type} {f.host_key.sha256}",
                 "expected after a reinstall or regenerated keys; otherwise find out why")


def _identity_ok(f: HostFacts, recorded: bool = False) -> Finding:
    if f.product_uuid:
        ident = f"product_uuid {f.product_uuid}"
    elif f.machine_id:
        ident = f"machine-id {f.machine_id} (no product_uuid on this host)"
    else:
        return _f(f.node, "identity", "warning", "neither product_uuid nor machine-id could be read: "
                  "duplicate and replaced machines cannot be detected",
                  "create one: systemd-machine-id-setup")
    return _f(f.node, "identity", "ok", ident + (", as recorded" if recorded else ""))
