"""The cluster spec of a lab: a valid homelab-ctl spec whose nodes are the lab machines."""

from __future__ import annotations

from typing import Any

import yaml

from homelab_ctl.errors import LabError
from homelab_ctl.lab.model import Lab
from homelab_ctl.lab.ssh import HOST
from homelab_ctl.spec import API_VERSION, parse


def data(lab: Lab) -> dict[str, Any]:
    kubernetes: dict[str, Any] = {}
    if lab.vip:
        kubernetes["controlPlaneEndpoint"] = {"vip": lab.vip, "port": 6443}
    spec: dict[str, Any] = {
        "kubernetes": kubernetes,
        "network": {"nodeCidr": lab.subnet},
        "ssh": {"user": "root", "privateKeyFile": str(lab.key_path.resolve()),
                "knownHostsFile": str(lab.known_hosts_path.resolve())},
        "nodes": [{"name": m.name, "address": m.ip, "roles": [m.role], "ssh": {"host": HOST, "port": m.ssh_port}}
                  for m in lab.machines],
    }
    if not kubernetes:
        del spec["kubernetes"]
    return {"apiVersion": API_VERSION, "kind": "Cluster", "metadata": {"name": lab.name}, "spec": spec}


def text(lab: Lab) -> str:
    header = (
        f"# Lab {lab.name}: {len(lab.machines)} podman machines made by `homelab-ctl lab up`.\n"
        f"# Nodes keep their lab-network address; SSH goes through ports on {HOST}.\n"
        f"# `homelab-ctl lab down --name {lab.name}` removes the machines and this directory.\n"
    )
    return header + yaml.safe_dump(data(lab), sort_keys=False, default_flow_style=False, width=120)


def write(lab: Lab) -> None:
    """Write cluster.yaml; a lab spec that does not validate is a bug of the lab, said as such."""
    content = text(lab)
    cluster, problems = parse(content)
    errors = [str(p) for p in problems if p.severity == "error"]
    if cluster is None or errors:
        raise LabError(f"the lab's own spec is invalid (a homelab-ctl bug): {'; '.join(errors)}")
    lab.spec_path.write_text(content, encoding="utf-8")
