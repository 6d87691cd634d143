"""Rules that relate several parts of a spec. Each rule yields every problem it sees."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from typing import Any

from homelab_ctl.addons import catalog
from homelab_ctl.spec.models import Cluster, ClusterSpec
from homelab_ctl.spec.problems import Loc, Problem

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Rule = Callable[[ClusterSpec], Iterator[Problem]]
S: Loc = ("spec",)


def _err(loc: Loc, message: str) -> Problem:
    return Problem(S + loc, message)


def _warn(loc: Loc, message: str) -> Problem:
    return Problem(S + loc, message, severity="warning")


def _duplicates(spec: ClusterSpec) -> Iterator[Problem]:
    for field in ("name", "address"):
        first: dict[str, int] = {}
        for i, node in enumerate(spec.nodes):
            value = getattr(node, field)
            if value in first:
                yield _err(("nodes", i, field), f"'{value}' is already used by spec.nodes[{first[value]}]")
            else:
                first[value] = i
    seen_ssh: dict[tuple[str, int], int] = {}
    for i, node in enumerate(spec.nodes):
        if node.ssh is None or node.ssh.host is None:
            continue
        target = (node.ssh.host, node.ssh.port or spec.ssh.port)
        if target in seen_ssh:
            yield _err(
                ("nodes", i, "ssh"),
                f"{target[0]}:{target[1]} is already the SSH target of spec.nodes[{seen_ssh[target]}]",
            )
        else:
            seen_ssh[target] = i
    macs: dict[str, int] = {}
    for i, node in enumerate(spec.nodes):
        for mac in node.identity.macs if node.identity else []:
            if mac in macs and macs[mac] != i:
                yield _err(("nodes", i, "identity", "macs"), f"{mac} is also pinned on spec.nodes[{macs[mac]}]")
            macs.setdefault(mac, i)


def _control_planes(spec: ClusterSpec) -> Iterator[Problem]:
    count = len(spec.control_planes)
    if count == 0:
        yield _err(("nodes",), "no node has the control-plane role (at least one is needed)")
    elif count == 1:
        yield _warn(("nodes",), "one control plane is not highly available (use 3 for HA)")
    elif count % 2 == 0:
        yield _err(
            ("nodes",),
            f"{count} control planes is an even number: etcd needs a majority ({count // 2 + 1} of {count}) "
            f"to keep working, so {count} tolerate {(count - 1) // 2} failure(s), no more than {count - 1} "
            f"would; use an odd number ({count - 1} or {count + 1})",
        )
    if count > 1 and spec.kubernetes.control_plane_endpoint is None:
        yield _err(
            ("kubernetes", "controlPlaneEndpoint"),
            f"{count} control planes need a shared endpoint: set vip (kube-vip) or host (load balancer)",
        )


def _endpoint(spec: ClusterSpec) -> Iterator[Problem]:
    endpoint = spec.kubernetes.control_plane_endpoint
    if endpoint is None or endpoint.vip is None:
        return
    loc: Loc = ("kubernetes", "controlPlaneEndpoint", "vip")
    for i, node in enumerate(spec.nodes):
        if node.address == endpoint.vip:
            yield _err(loc, f"{endpoint.vip} is the address of spec.nodes[{i}] ({node.name}); a VIP must be free")
    nfs = spec.storage.nfs
    if nfs is not None and nfs.server == endpoint.vip:
        yield _err(loc, f"{endpoint.vip} is the NFS server (storage.nfs.server); a VIP must be free")
    node_cidr = spec.network.node_cidr
    if node_cidr and ipaddress.ip_address(endpoint.vip) not in ipaddress.ip_network(node_cidr):
        yield _err(loc, f"{endpoint.vip} is outside network.nodeCidr {node_cidr}")


def _metallb_ranges(spec: ClusterSpec) -> Iterator[tuple[Loc, list[Network] | None, str]]:
    if spec.addons.metallb is None:
        return
    for i, text in enumerate(spec.addons.metallb.addresses):
        yield ("addons", "metallb", "addresses", i), _parse_range(text), text


def _parse_range(text: str) -> list[Network] | None:
    try:
        if "-" in text:
            first, last = (ipaddress.ip_address(p.strip()) for p in text.split("-", 1))
            if first.version != last.version or int(last) < int(first):
                return None
            return list(ipaddress.summarize_address_range(first, last))
        return [ipaddress.ip_network(text, strict=True)]
    except ValueError:
        return None


def _networks(spec: ClusterSpec) -> Iterator[Problem]:
    named: list[tuple[Loc, str, list[Network]]] = [
        (("kubernetes", "podSubnet"), "podSubnet", [ipaddress.ip_network(spec.kubernetes.pod_subnet)]),
        (("kubernetes", "serviceSubnet"), "serviceSubnet", [ipaddress.ip_network(spec.kubernetes.service_subnet)]),
    ]
    if spec.network.node_cidr:
        named.append((("network", "nodeCidr"), "nodeCidr", [ipaddress.ip_network(spec.network.node_cidr)]))
    for loc, nets, text in _metallb_ranges(spec):
        if nets is None:
            yield _err(loc, f"'{text}' is not a CIDR or a range like 192.168.10.200-192.168.10.220")
        else:
            named.append((loc, "MetalLB range", nets))
    metallb = {n for loc, n, _ in named if loc[0] == "addons"}
    in_node_lan: set[str] = set()
    for j, (loc, name, nets) in enumerate(named):
        for _, other, other_nets in named[:j]:
            if "nodeCidr" in (name, other) and (name in metallb or other in metallb):
                continue  # MetalLB ranges are meant to lie in the node LAN
            if any(a.version == b.version and a.overlaps(b) for a in nets for b in other_nets):
                yield _err(loc, f"{name} {_show(nets)} overlaps {other} {_show(other_nets)}")
                if "nodeCidr" in (name, other):
                    in_node_lan.add(other if name == "nodeCidr" else name)
    endpoint = spec.kubernetes.control_plane_endpoint
    vip = endpoint.vip if endpoint else None
    for loc, name, nets in named:
        if name == "nodeCidr":
            for i, node in enumerate(spec.nodes):
                if ipaddress.ip_address(node.address) not in nets[0]:
                    yield _err(("nodes", i, "address"), f"{node.address} is outside network.nodeCidr {nets[0]}")
            continue
        if name in in_node_lan:
            continue  # already reported as overlapping the node LAN
        inside = [f"{n.name} {n.address}" for n in spec.nodes
                  if any(ipaddress.ip_address(n.address) in net for net in nets)]
        if inside:
            yield _err(loc, f"{name} {_show(nets)} contains node addresses ({', '.join(inside)})")
        if vip and any(ipaddress.ip_address(vip) in n for n in nets):
            yield _err(loc, f"{name} {_show(nets)} contains the control-plane VIP {vip}")


def _show(nets: list[Network]) -> str:
    return str(nets[0]) if len(nets) == 1 else f"{nets[0].network_address}-{nets[-1].broadcast_address}"


def _versions(spec: ClusterSpec) -> Iterator[Problem]:
    version = spec.kubernetes.version
    k8s = catalog.minor(version)
    if k8s not in catalog.KUBERNETES_MINORS:
        supported = ", ".join(catalog.fmt(m) for m in catalog.KUBERNETES_MINORS)
        yield _err(("kubernetes", "version"), f"Kubernetes {version} is not supported (supported: {supported})")
        return
    addons: dict[str, Any] = {
        "postgresOperator": spec.addons.postgres_operator,
        "kubevirt": spec.addons.kubevirt,
        "metallb": spec.addons.metallb,
    }
    for key, addon in addons.items():
        if addon is None:
            continue
        by_version = {c.version: c for c in catalog.SUPPORTED[key]}
        component = by_version.get(addon.version)
        if component is None:
            yield _err(
                ("addons", key, "version"),
                f"'{addon.version}' is not a supported version (supported: {', '.join(by_version)})",
            )
        elif not catalog.supports(component, k8s):
            yield _err(
                ("addons", key, "version"),
                f"{component.name} {component.version} supports Kubernetes {catalog.support_range(component)}, "
                f"not Kubernetes {version}",
            )


def _storage(spec: ClusterSpec) -> Iterator[Problem]:
    defaults = [name for name, cls in (("localPath", spec.storage.local_path), ("nfs", spec.storage.nfs))
                if cls is not None and cls.default]
    if len(defaults) > 1:
        yield _err(("storage",), f"only one default StorageClass may be set (both {' and '.join(defaults)} are)")
    operator = spec.addons.postgres_operator
    if operator is None:
        return
    names: dict[tuple[str, str], int] = {}
    for i, pg in enumerate(operator.clusters):
        loc: Loc = ("addons", "postgresOperator", "clusters", i)
        key = (pg.namespace, pg.name)
        if key in names:
            yield _err((*loc, "name"), f"'{pg.name}' is already used by clusters[{names[key]}] in {pg.namespace}")
        names.setdefault(key, i)
        if pg.storage_class is None and not defaults:
            yield _err(
                (*loc, "storageClass"),
                "no default StorageClass: set storage.localPath or storage.nfs default: true, or a storageClass",
            )


def _workers(spec: ClusterSpec) -> Iterator[Problem]:
    if not spec.workers and len(spec.nodes) > 0 and spec.control_planes:
        yield _warn(("nodes",), "no worker nodes: control planes will run workloads (their taint is removed)")


RULES: tuple[Rule, ...] = (_duplicates, _control_planes, _endpoint, _networks, _versions, _storage, _workers)


def check(cluster: Cluster) -> list[Problem]:
    return [problem for rule in RULES for problem in rule(cluster.spec)]
