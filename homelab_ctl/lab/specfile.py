"""The cluster spec of a lab: a valid homelab-ctl spec whose nodes are the lab machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from homelab_ctl.errors import LabError
from homelab_ctl.lab.model import Lab, Machine
from homelab_ctl.lab.ssh import HOST
from homelab_ctl.spec import API_VERSION, parse


def data(lab: Lab, mirror: Path | None = None) -> dict[str, Any]:
    """The lab's spec. Podman machines are containers on this host: the kubelet runs on the host's
    cgroup v1 if it has to, and skips what only a real machine has; VMs are real machines. With a
    mirror, containerd and everything else come from it (upstream containerd 2.x, as Kubernetes 1.36
    wants)."""
    kubernetes: dict[str, Any] = {} if lab.driver == "vm" else {"failCgroupV1": False, "containerNodes": True}
    if lab.vip:
        kubernetes["controlPlaneEndpoint"] = {"vip": lab.vip, "port": 6443}
    spec: dict[str, Any] = {
        "kubernetes": kubernetes,
        "network": {"nodeCidr": lab.subnet},
        "ssh": {"user": "root", "privateKeyFile": str(lab.key_path.resolve()),
                "knownHostsFile": str(lab.known_hosts_path.resolve())},
        "nodes": [node(m) for m in lab.machines],
    }
    if mirror is not None:
        spec["containerRuntime"] = {"source": "upstream"}
        spec["artifacts"] = {"dir": str(mirror.resolve())}
    return {"apiVersion": API_VERSION, "kind": "Cluster", "metadata": {"name": lab.name}, "spec": spec}


def node(machine: Machine) -> dict[str, Any]:
    return {"name": machine.name, "address": machine.ip, "roles": [machine.role],
            "ssh": {"host": HOST, "port": machine.ssh_port}}


def text(lab: Lab, mirror: Path | None = None) -> str:
    return _header(lab) + yaml.safe_dump(data(lab, mirror), sort_keys=False, default_flow_style=False, width=120)


def _header(lab: Lab) -> str:
    return (
        f"# Lab {lab.name}: {len(lab.machines)} {'qemu VMs' if lab.driver == 'vm' else 'podman machines'} "
        "made by `homelab-ctl lab up`.\n"
        f"# Nodes keep their lab-network address; SSH goes through ports on {HOST}.\n"
        f"# `homelab-ctl lab down --name {lab.name}` removes the machines and this directory.\n"
    )


def write(lab: Lab, mirror: Path | None = None) -> None:
    """Write cluster.yaml; a lab spec that does not validate is a bug of the lab, said as such."""
    _write(lab, text(lab, mirror))


def add_node(lab: Lab, machine: Machine) -> None:
    """Append a machine to the lab's cluster.yaml, keeping whatever else the user changed there."""
    current = yaml.safe_load(lab.spec_path.read_text(encoding="utf-8"))
    nodes = current["spec"]["nodes"]
    nodes[:] = [n for n in nodes if n.get("name") != machine.name] + [node(machine)]
    _write(lab, _header(lab) + yaml.safe_dump(current, sort_keys=False, default_flow_style=False, width=120))


def _write(lab: Lab, content: str) -> None:
    cluster, problems = parse(content)
    errors = [str(p) for p in problems if p.severity == "error"]
    if cluster is None or errors:
        raise LabError(f"the lab's own spec is invalid (a homelab-ctl bug): {'; '.join(errors)}")
    lab.spec_path.write_text(content, encoding="utf-8")
