"""The Ansible inventory of a cluster: hosts.yml (groups) and group_vars/all/*.yml (homelab_* values).

Pure: the spec in, {relative path: text} out, byte-identical for the same spec.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from homelab_ctl.addons import catalog
from homelab_ctl.render.paths import resolve
from homelab_ctl.spec import Cluster, Loaded, Node

GROUPS = ("kube_control_plane", "kube_node", "etcd", "k8s_cluster")
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


class _Dumper(yaml.SafeDumper):
    """Indents list items under their key, as yamllint's default config expects."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _dump(header: str, data: dict[str, Any]) -> str:
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)
    note = "# Rendered by homelab-ctl: edit the spec and render again instead of editing this file."
    return f"# {header}\n{note}\n---\n{body}"


def _known_hosts_args(known_hosts: str) -> str:
    return f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes"


def node_taints(cluster: Cluster, node: Node) -> list[dict[str, str]]:
    """Taints kubeadm registers the node with: control planes keep the standard taint unless they
    also carry the worker role or the cluster has no workers."""
    taints = [t.model_dump(exclude_none=True) for t in node.taints]
    if node.is_control_plane and not node.is_worker and cluster.spec.workers:
        taints.insert(0, dict(CONTROL_PLANE_TAINT))
    return taints


def _host_vars(loaded: Loaded, node: Node) -> dict[str, Any]:
    base = loaded.base_dir
    host: dict[str, Any] = {"ansible_host": node.ssh.host if node.ssh and node.ssh.host else node.address}
    if node.ssh:
        if node.ssh.port is not None:
            host["ansible_port"] = node.ssh.port
        if node.ssh.user is not None:
            host["ansible_user"] = node.ssh.user
        if node.ssh.private_key_file is not None:
            host["ansible_ssh_private_key_file"] = resolve(node.ssh.private_key_file, base)
        if node.ssh.known_hosts_file is not None:
            host["ansible_ssh_common_args"] = _known_hosts_args(str(resolve(node.ssh.known_hosts_file, base)))
    host["homelab_node_address"] = node.address
    host["homelab_node_roles"] = list(node.roles)
    host["homelab_node_labels"] = dict(sorted(node.labels.items()))
    host["homelab_node_taints"] = node_taints(loaded.cluster, node)
    return host


def hosts(loaded: Loaded) -> dict[str, Any]:
    spec = loaded.cluster.spec
    members = {
        "kube_control_plane": [n.name for n in spec.control_planes],
        "kube_node": [n.name for n in spec.workers] or [n.name for n in spec.control_planes],
        "etcd": [n.name for n in spec.control_planes],
    }
    children: dict[str, Any] = {g: {"hosts": dict.fromkeys(names)} for g, names in members.items()}
    children["k8s_cluster"] = {"children": {"kube_control_plane": None, "kube_node": None}}
    return {"all": {"hosts": {n.name: _host_vars(loaded, n) for n in spec.nodes}, "children": children}}


def group_vars(loaded: Loaded) -> dict[str, dict[str, Any]]:
    cluster, base = loaded.cluster, loaded.base_dir
    spec = cluster.spec
    k8s, endpoint = spec.kubernetes, spec.kubernetes.control_plane_endpoint
    first = spec.control_planes[0]
    version_minor = catalog.minor(k8s.version)
    flannel = spec.network.flannel
    runtime = spec.container_runtime
    known_hosts = resolve(spec.ssh.known_hosts_file, base)
    connection: dict[str, Any] = {
        "ansible_user": spec.ssh.user,
        "ansible_port": spec.ssh.port,
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_common_args": _known_hosts_args(str(known_hosts)),
    }
    if spec.ssh.private_key_file:
        connection["ansible_ssh_private_key_file"] = resolve(spec.ssh.private_key_file, base)
    return {
        "cluster.yml": {
            "homelab_cluster_name": cluster.name,
            "homelab_kubernetes_version": k8s.version,
            "homelab_kubernetes_minor": catalog.fmt(version_minor),
            "homelab_pod_subnet": k8s.pod_subnet,
            "homelab_service_subnet": k8s.service_subnet,
            "homelab_dns_domain": k8s.dns_domain,
            "homelab_control_plane_host": endpoint.address if endpoint else first.address,
            "homelab_control_plane_port": endpoint.port if endpoint else 6443,
            "homelab_vip": endpoint.vip if endpoint else None,
            "homelab_vip_interface": endpoint.interface if endpoint else None,
            "homelab_first_control_plane": first.name,
            "homelab_encrypt_secrets": k8s.encrypt_secrets,
            "homelab_kubelet_fail_cgroupv1": k8s.fail_cgroup_v1,
            "homelab_container_nodes": k8s.container_nodes,
            "homelab_nodes": [{"name": n.name, "address": n.address} for n in spec.nodes],
        },
        "connection.yml": connection,
        "network.yml": {
            "homelab_cni": spec.network.cni,
            "homelab_node_cidr": spec.network.node_cidr,
            "homelab_flannel_version": catalog.FLANNEL.version,
            "homelab_flannel_backend": flannel.backend,
            "homelab_flannel_iface": flannel.iface,
            "homelab_flannel_iface_regex": flannel.iface_regex,
        },
        "runtime.yml": {
            "homelab_container_runtime": runtime.name,
            "homelab_containerd_source": runtime.source,
            "homelab_containerd_version": runtime.version,
            "homelab_pause_image": catalog.PAUSE_IMAGE[version_minor],
            "homelab_registry_mirrors": {k: list(v) for k, v in sorted(runtime.registry_mirrors.items())},
            "homelab_artifacts_dir": resolve(spec.artifacts.dir, base),
        },
        "storage.yml": {
            "homelab_nfs_enabled": spec.storage.nfs is not None,
            "homelab_local_path_dir": spec.storage.local_path.path if spec.storage.local_path else None,
        },
    }


def files(loaded: Loaded) -> dict[str, str]:
    """Relative path -> content of every file of the inventory."""
    name = loaded.path.name
    out = {"hosts.yml": _dump(f"Inventory of cluster {loaded.cluster.name} (from {name})", hosts(loaded))}
    for filename, data in group_vars(loaded).items():
        out[f"group_vars/all/{filename}"] = _dump(f"Variables of cluster {loaded.cluster.name} (from {name})", data)
    return out


def write(contents: dict[str, str], outdir: Path) -> list[Path]:
    """Write each file atomically; return the paths that changed."""
    changed = []
    for rel, text in sorted(contents.items()):
        target = outdir / rel
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        changed.append(target)
    return changed
