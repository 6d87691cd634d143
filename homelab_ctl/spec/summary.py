"""A short human summary of a valid spec (validate, up)."""

from __future__ import annotations

from homelab_ctl.spec.models import Cluster


def summary_lines(cluster: Cluster) -> list[tuple[str, str]]:
    spec = cluster.spec
    k8s = spec.kubernetes
    cps = [n.name for n in spec.control_planes]
    workers = [n.name for n in spec.workers]
    nodes = f"{len(spec.nodes)}: {len(cps)} control-plane ({', '.join(cps)})"
    if workers:
        nodes += f", {len(workers)} worker ({', '.join(workers)})"
    endpoint = k8s.control_plane_endpoint
    if endpoint is None:
        where = f"{_host(spec.control_planes[0].address)}:6443 (first control plane, no HA endpoint)"
    elif endpoint.vip:
        where = f"{_host(endpoint.vip)}:{endpoint.port} (VIP by kube-vip)"
    else:
        where = f"{_host(endpoint.host or '')}:{endpoint.port} (external load balancer)"
    addons = []
    if spec.addons.postgres_operator:
        pg = spec.addons.postgres_operator
        addons.append(f"postgres-operator {pg.version} ({len(pg.clusters)} database cluster(s))")
    if spec.addons.kubevirt:
        addons.append(f"kubevirt {spec.addons.kubevirt.version} (emulation {spec.addons.kubevirt.emulation})")
    if spec.addons.metallb:
        addons.append(f"metallb {spec.addons.metallb.version}")
    storage = [name for name, on in (("local-path", spec.storage.local_path), ("nfs", spec.storage.nfs)) if on]
    return [
        ("cluster", f"{cluster.name} (Kubernetes {k8s.version})"),
        ("nodes", nodes),
        ("endpoint", where),
        ("network", f"{spec.network.cni} {spec.network.flannel.backend}, pods {k8s.pod_subnet}, "
                    f"services {k8s.service_subnet}"),
        ("storage", ", ".join(storage) or "none"),
        ("add-ons", ", ".join(addons) or "none"),
    ]


def _host(address: str) -> str:
    """host:port needs brackets around an IPv6 address."""
    return f"[{address}]" if ":" in address else address
