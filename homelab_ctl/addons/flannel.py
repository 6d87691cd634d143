"""Flannel, the CNI: the pinned upstream kube-flannel.yml, patched for the spec.

net-conf.json gets the spec's podSubnet (it must equal kubeadm's) and backend. The kube-flannel
container gets --iface / --iface-regex when the spec names the interface; otherwise the node's own
address, --iface=$(NODE_IP) with NODE_IP from status.hostIP: the address the kubelet registered
(its --node-ip, homelab_node_address), not whatever interface holds the default route -- on a node
whose cluster network is a second NIC or VLAN, flanneld's default would send VXLAN/host-gw traffic
out of the wrong interface. Everything else stays exactly as upstream ships it.
"""

from __future__ import annotations

import copy
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from homelab_ctl.addons import artifacts, catalog

if TYPE_CHECKING:
    from homelab_ctl.spec import Cluster

Manifest = dict[str, Any]

NAMESPACE = "kube-flannel"
CONFIG_MAP = "kube-flannel-cfg"
DAEMON_SET = "kube-flannel-ds"
CONTAINER = "kube-flannel"
_IFACE_FLAGS = ("--iface", "--iface-regex")
NODE_IP_ENV = "NODE_IP"
# Kubernetes expands $(VAR) in container args from the container's env.
NODE_IP_ARG = f"--iface=$({NODE_IP_ENV})"


@dataclass(frozen=True)
class FlannelValues:
    pod_subnet: str
    backend: str  # vxlan | host-gw | wireguard: flannel's Backend.Type
    iface: str | None = None
    iface_regex: str | None = None


def values(cluster: Cluster) -> FlannelValues:
    flannel = cluster.spec.network.flannel
    return FlannelValues(cluster.spec.kubernetes.pod_subnet, flannel.backend, flannel.iface, flannel.iface_regex)


def parse(text: str) -> list[Manifest]:
    import yaml

    return [doc for doc in yaml.safe_load_all(text) if doc]


def patch(objects: list[Manifest], v: FlannelValues) -> list[Manifest]:
    """A patched deep copy of the upstream objects (the input is left untouched)."""
    out = copy.deepcopy(objects)
    config_map = _find(out, "ConfigMap", CONFIG_MAP)
    config_map["data"]["net-conf.json"] = net_conf(config_map["data"]["net-conf.json"], v)
    daemon_set = _find(out, "DaemonSet", DAEMON_SET)
    containers = daemon_set["spec"]["template"]["spec"]["containers"]
    container = next((c for c in containers if c.get("name") == CONTAINER), None)
    if container is None:
        raise ValueError(f"kube-flannel.yml: DaemonSet {DAEMON_SET} has no container {CONTAINER}")
    container["args"] = _iface_args(list(container.get("args") or []), v)
    env = [e for e in container.get("env") or [] if e.get("name") != NODE_IP_ENV]
    if not (v.iface or v.iface_regex):
        env.append({"name": NODE_IP_ENV, "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}})
    if env or "env" in container:
        container["env"] = env
    return out


def net_conf(text: str, v: FlannelValues) -> str:
    conf: dict[str, Any] = json.loads(text)
    network = ipaddress.ip_network(v.pod_subnet)
    if network.version == 4:
        conf["Network"] = str(network)
    else:  # single-stack IPv6 (flannel's keys for it)
        conf.pop("Network", None)
        conf.update({"EnableIPv4": False, "EnableIPv6": True, "IPv6Network": str(network)})
    # A whole new Backend: options of another type (e.g. vxlan's VNI) would be invalid.
    conf["Backend"] = {"Type": v.backend}
    return json.dumps(conf, indent=2) + "\n"


def _iface_args(args: list[str], v: FlannelValues) -> list[str]:
    kept: list[str] = []
    skip_value = False
    for arg in args:  # drop any interface choice upstream might ship ("--iface=x" or "--iface x")
        if skip_value:
            skip_value = False
            continue
        if arg in _IFACE_FLAGS:
            skip_value = True
            continue
        if arg.startswith(tuple(f"{flag}=" for flag in _IFACE_FLAGS)):
            continue
        kept.append(arg)
    if v.iface:
        kept.append(f"--iface={v.iface}")
    if v.iface_regex:
        kept.append(f"--iface-regex={v.iface_regex}")
    if not (v.iface or v.iface_regex):
        kept.append(NODE_IP_ARG)
    return kept


def _find(objects: list[Manifest], kind: str, name: str) -> Manifest:
    for obj in objects:
        if obj.get("kind") == kind and obj.get("metadata", {}).get("name") == name:
            return obj
    raise ValueError(f"kube-flannel.yml: no {kind} {name} (has the upstream file changed?)")


def manifests(cluster: Cluster, *, mirror: Path | None = None, cache_dir: Path | None = None) -> list[Manifest]:
    """Fetch (verified against the pinned sha256) and patch: the objects to apply, in file order."""
    fetched = artifacts.fetch(catalog.FLANNEL_MANIFEST, mirror=mirror, cache_dir=cache_dir)
    return patch(parse(fetched.read_text()), values(cluster))
