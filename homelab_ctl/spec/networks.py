"""Address rules across the spec: VIP, node LAN, pod and service subnets, MetalLB ranges.

Single-stack only (the templates and the Flannel patch handle IPv4 or IPv6, not both), and the
sizes kube-controller-manager and the API server accept: each node gets a /24 (IPv6: /64) of
podSubnet, and a service range has at most 20 bits.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterator
from typing import TYPE_CHECKING

from homelab_ctl.spec.partial import Known
from homelab_ctl.spec.problems import Loc, Problem
from homelab_ctl.spec.show import quote

if TYPE_CHECKING:
    from homelab_ctl.spec.models import ClusterSpec

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
S: Loc = ("spec",)
NODE_MASK = {4: 24, 6: 64}  # kube-controller-manager --node-cidr-mask-size(-ipv6) defaults
MAX_NODE_BITS = 16  # kube-controller-manager: node mask at most 16 bits longer than the cluster CIDR
SERVICE_PREFIX = {4: (12, 24), 6: (108, 120)}  # API server: at most 20 bits; below that, implausibly few
VIP_LOC: Loc = ("kubernetes", "controlPlaneEndpoint", "vip")


def _err(loc: Loc, message: str) -> Problem:
    return Problem(S + loc, message)


def _vip(spec: ClusterSpec, ok: Known) -> Address | None:
    if not ok(*VIP_LOC):
        return None
    endpoint = spec.kubernetes.control_plane_endpoint
    return ipaddress.ip_address(endpoint.vip) if endpoint and endpoint.vip else None


def _node_cidr(spec: ClusterSpec, ok: Known) -> Network | None:
    if not ok("network", "nodeCidr") or not spec.network.node_cidr:
        return None
    return ipaddress.ip_network(spec.network.node_cidr)


@functools.lru_cache(maxsize=4096)
def _ip(text: str) -> Address:
    return ipaddress.ip_address(text)  # several rules look at every node address


def _addresses(spec: ClusterSpec, ok: Known) -> list[tuple[int, Address]]:
    return [(i, _ip(n.address)) for i, n in enumerate(spec.nodes) if ok("nodes", i, "address")]


def _name(spec: ClusterSpec, ok: Known, i: int) -> str:
    return spec.nodes[i].name if ok("nodes", i, "name") else f"spec.nodes[{i}]"


def _node(spec: ClusterSpec, ok: Known, i: int) -> str:
    return f"spec.nodes[{i}] ({spec.nodes[i].name})" if ok("nodes", i, "name") else f"spec.nodes[{i}]"


def _edge(ip: Address, net: Network) -> str | None:
    """'network' / 'broadcast' when ip is an address of net that no machine may have."""
    if net.num_addresses <= 2:
        return None  # /31, /32 (RFC 3021) and their IPv6 counterparts: every address is usable
    if ip == net.network_address:
        return "network"
    if net.version == 4 and ip == net.broadcast_address:
        return "broadcast"
    return None


def endpoint(spec: ClusterSpec, ok: Known) -> Iterator[Problem]:
    vip = _vip(spec, ok)
    node_cidr = _node_cidr(spec, ok)
    if node_cidr is not None:
        for i, ip in _addresses(spec, ok):
            edge = _edge(ip, node_cidr)
            if edge:
                yield _err(("nodes", i, "address"), f"{ip} is the {edge} address of network.nodeCidr {node_cidr}")
    if vip is None:
        return
    for i, ip in _addresses(spec, ok):
        if ip == vip:
            yield _err(VIP_LOC, f"{vip} is the address of {_node(spec, ok, i)}; a VIP must be free")
    nfs = spec.storage.nfs if ok("storage", "nfs", "server") else None
    if nfs is not None and nfs.server == str(vip):
        yield _err(VIP_LOC, f"{vip} is the NFS server (storage.nfs.server); a VIP must be free")
    if node_cidr is not None and node_cidr.version == vip.version:
        if vip not in node_cidr:
            yield _err(VIP_LOC, f"{vip} is outside network.nodeCidr {node_cidr}")
        elif _edge(vip, node_cidr):
            yield _err(VIP_LOC, f"{vip} is the {_edge(vip, node_cidr)} address of network.nodeCidr {node_cidr}; "
                                "a VIP must be an address a machine could have")


def _metallb_ranges(spec: ClusterSpec, ok: Known) -> Iterator[tuple[Loc, list[Network] | None, str]]:
    if not ok("addons", "metallb", "addresses") or spec.addons.metallb is None:
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


def _named(spec: ClusterSpec, ok: Known) -> list[tuple[Loc, str, list[Network]]]:
    named: list[tuple[Loc, str, list[Network]]] = []
    for field, name in (("podSubnet", "podSubnet"), ("serviceSubnet", "serviceSubnet")):
        if ok("kubernetes", field):
            value = spec.kubernetes.pod_subnet if field == "podSubnet" else spec.kubernetes.service_subnet
            named.append((("kubernetes", field), name, [ipaddress.ip_network(value)]))
    node_cidr = _node_cidr(spec, ok)
    if node_cidr is not None:
        named.append((("network", "nodeCidr"), "nodeCidr", [node_cidr]))
    return named


def overlaps(spec: ClusterSpec, ok: Known) -> Iterator[Problem]:
    named = _named(spec, ok)
    for loc, nets, text in _metallb_ranges(spec, ok):
        if nets is None:
            yield _err(loc, f"{quote(text)} is not a CIDR or a range like 192.168.10.200-192.168.10.220")
        else:
            named.append((loc, "MetalLB range", nets))
    metallb = {n for loc, n, _ in named if loc[0] == "addons"}
    in_node_lan: set[str] = set()
    flagged: set[Loc] = set()
    for j, (loc, name, nets) in enumerate(named):
        for _, other, other_nets in named[:j]:
            if "nodeCidr" in (name, other) and (name in metallb or other in metallb):
                continue  # MetalLB ranges are meant to lie in the node LAN
            if any(a.version == b.version and a.overlaps(b) for a in nets for b in other_nets):
                yield _err(loc, f"{name} {_show(nets)} overlaps {other} {_show(other_nets)}")
                flagged.add(loc)
                if "nodeCidr" in (name, other):
                    in_node_lan.add(other if name == "nodeCidr" else name)
    vip = _vip(spec, ok)
    addresses = _addresses(spec, ok)
    node_cidr = _node_cidr(spec, ok)
    for loc, name, nets in named:
        if name == "nodeCidr":
            for i, ip in addresses:
                if ip.version == nets[0].version and ip not in nets[0]:
                    yield _err(("nodes", i, "address"), f"{ip} is outside network.nodeCidr {nets[0]}")
            continue
        if name == "MetalLB range" and loc not in flagged and not _within(nets, node_cidr):
            yield _err(loc, f"MetalLB range {_show(nets)} is outside network.nodeCidr {node_cidr} "
                            "(MetalLB answers for its addresses on the node LAN)")
        if name in in_node_lan:
            continue  # already reported as overlapping the node LAN
        inside = [f"{_name(spec, ok, i)} {ip}" for i, ip in addresses if any(ip in net for net in nets)]
        if inside:
            yield _err(loc, f"{name} {_show(nets)} contains node addresses ({', '.join(inside)})")
        if vip is not None and any(vip in n for n in nets):
            yield _err(loc, f"{name} {_show(nets)} contains the control-plane VIP {vip}")


def _within(nets: list[Network], lan: Network | None) -> bool:
    """MetalLB's L2 mode answers ARP/NDP for its addresses: they must be on the node LAN."""
    if lan is None or nets[0].version != lan.version:
        return True  # unknown LAN, or a family mismatch (reported by families())
    return all(lan.supernet_of(n) for n in nets)  # type: ignore[arg-type]


def _show(nets: list[Network]) -> str:
    return str(nets[0]) if len(nets) == 1 else f"{nets[0].network_address}-{nets[-1].broadcast_address}"


def families(spec: ClusterSpec, ok: Known) -> Iterator[Problem]:
    """One IP family for node addresses, VIP, podSubnet, serviceSubnet, nodeCidr and MetalLB."""
    items: list[tuple[Loc, str, str, int]] = [  # loc, the value, the value with its path, family
        (("nodes", i, "address"), str(ip), f"spec.nodes[{i}].address {ip}", ip.version)
        for i, ip in _addresses(spec, ok)]
    vip = _vip(spec, ok)
    if vip is not None:
        items.append((VIP_LOC, str(vip), f"the VIP {vip}", vip.version))
    items += [(loc, _show(nets), f"{name} {_show(nets)}", nets[0].version) for loc, name, nets in _named(spec, ok)]
    items += [(loc, _show(nets), f"MetalLB range {_show(nets)}", nets[0].version)
              for loc, nets, _ in _metallb_ranges(spec, ok) if nets]
    if not items:
        return
    _, _, first, version = items[0]
    for loc, value, _, other in items[1:]:
        if other != version:
            yield _err(loc, f"{value} is IPv{other} but {first} is IPv{version}: homelab-ctl sets up single-stack "
                            "clusters (one IP family for node addresses, VIP, podSubnet and serviceSubnet)")


def sizes(spec: ClusterSpec, ok: Known) -> Iterator[Problem]:
    if ok("kubernetes", "podSubnet"):
        pods = ipaddress.ip_network(spec.kubernetes.pod_subnet)
        mask = NODE_MASK[pods.version]
        loc: Loc = ("kubernetes", "podSubnet")
        if pods.prefixlen > mask:
            yield _err(loc, f"{pods} is too small: each node gets a /{mask} of it (kube-controller-manager's "
                            f"node-cidr-mask-size), so it must be a /{mask} or larger")
        elif mask - pods.prefixlen > MAX_NODE_BITS:
            yield _err(loc, f"{pods} is too large: kube-controller-manager allows at most {MAX_NODE_BITS} bits "
                            f"between it and the nodes' /{mask} (use a /{mask - MAX_NODE_BITS} or smaller)")
        elif ok.present("nodes") and 2 ** (mask - pods.prefixlen) < len(spec.nodes):
            needed = mask - (len(spec.nodes) - 1).bit_length()
            yield _err(loc, f"{pods} has room for {2 ** (mask - pods.prefixlen)} nodes (a /{mask} each), "
                            f"not {len(spec.nodes)}: use a /{needed} or larger")
    if ok("kubernetes", "serviceSubnet"):
        services = ipaddress.ip_network(spec.kubernetes.service_subnet)
        low, high = SERVICE_PREFIX[services.version]
        loc = ("kubernetes", "serviceSubnet")
        if services.prefixlen < low:
            yield _err(loc, f"{services} is too large: the API server allows at most "
                            f"{services.max_prefixlen - low} bits of service addresses (a /{low} or smaller)")
        elif services.prefixlen > high:
            yield _err(loc, f"{services} is implausibly small for services: use a /{high} or larger "
                            "(the default is 10.96.0.0/12)")
