"""A valid spec as data, to change one thing at a time in tests."""

from __future__ import annotations

import copy
from typing import Any

import yaml

BASE: dict[str, Any] = {
    "apiVersion": "homelab-ctl/v1alpha1",
    "kind": "Cluster",
    "metadata": {"name": "home"},
    "spec": {
        "kubernetes": {"version": "1.36.3", "podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/12",
                       "dnsDomain": "cluster.local", "controlPlaneEndpoint": {"vip": "192.168.10.50"}},
        "network": {"nodeCidr": "192.168.10.0/24", "flannel": {"iface": "eno1"}},
        "ssh": {"user": "admin"},
        "nodes": [
            {"name": "cp1", "address": "192.168.10.11", "roles": ["control-plane"]},
            {"name": "cp2", "address": "192.168.10.12", "roles": ["control-plane"]},
            {"name": "cp3", "address": "192.168.10.13", "roles": ["control-plane"]},
            {"name": "w1", "address": "192.168.10.21", "roles": ["worker"], "labels": {"disk": "ssd"}},
        ],
        "addons": {"postgresOperator": {"clusters": [{"name": "main", "databases": {"app": "app"}}]},
                   "metallb": {"addresses": ["192.168.10.200-192.168.10.220"]}},
    },
}


def spec(*changes: tuple[str, Any]) -> dict[str, Any]:
    """BASE with each (dotted path, value) set (missing mappings on the way are added); DELETE removes the key."""
    data = copy.deepcopy(BASE)
    for path, value in changes:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = data
        for part in parents:
            node = node.setdefault(part, {}) if isinstance(node, dict) else node[part]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return data


def text(*changes: tuple[str, Any]) -> str:
    return yaml.safe_dump(spec(*changes), sort_keys=False)


DELETE = object()
