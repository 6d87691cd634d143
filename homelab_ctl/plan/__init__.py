"""What `up` will do, computed from the spec and the facts preflight gathered (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from homelab_ctl.errors import HomelabError
from homelab_ctl.facts.models import HostFacts
from homelab_ctl.spec import Cluster


@dataclass(frozen=True)
class Plan:
    cluster: str
    init: str | None  # the control plane kubeadm init runs on; None: the cluster exists
    join_control_planes: list[str]
    join_workers: list[str]
    members: list[str]  # nodes already in the cluster

    @property
    def joins(self) -> list[str]:
        return self.join_control_planes + self.join_workers

    @property
    def converged(self) -> bool:
        """Every node is a member: playbooks only re-assert configuration (expected changed=0)."""
        return self.init is None and not self.joins

    def lines(self) -> list[str]:
        out = []
        if self.init:
            out.append(f"initialise the cluster on {self.init} (kubeadm init)")
        if self.join_control_planes:
            out.append(f"join control planes {', '.join(self.join_control_planes)} (one at a time)")
        if self.join_workers:
            out.append(f"join workers {', '.join(self.join_workers)}")
        if self.members:
            out.append(f"already members: {', '.join(self.members)}")
        if self.converged:
            out.append("nothing to do: every node is a member; playbooks only re-check the configuration")
        return out


def make_plan(cluster: Cluster, facts: dict[str, HostFacts]) -> Plan:
    spec = cluster.spec
    first = spec.control_planes[0].name
    initialised = [n.name for n in spec.control_planes if facts[n.name].admin_conf]
    if initialised and first not in initialised:
        raise HomelabError(
            f"the cluster was initialised on {', '.join(initialised)}, but {first} (the first control plane "
            "in the spec) has no /etc/kubernetes/admin.conf",
            hint=f"list {initialised[0]} first among the control planes in the spec",
        )
    members = [n.name for n in spec.nodes if facts[n.name].is_member]
    return Plan(
        cluster=cluster.name,
        init=None if initialised else first,
        join_control_planes=[n.name for n in spec.control_planes if n.name != first and n.name not in members],
        join_workers=[n.name for n in spec.nodes if not n.is_control_plane and n.name not in members],
        members=members,
    )
