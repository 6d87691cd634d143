"""What `up` will do, computed from the spec, the facts preflight gathered and the record of the
last converged run (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from homelab_ctl.errors import HomelabError
from homelab_ctl.facts.models import HostFacts
from homelab_ctl.plan import drift
from homelab_ctl.plan.drift import PLAYBOOK_STAGES, Converged
from homelab_ctl.spec import Cluster


@dataclass(frozen=True)
class Plan:
    cluster: str
    init: str | None  # the control plane kubeadm init runs on; None: the cluster exists
    join_control_planes: list[str]
    join_workers: list[str]
    members: list[str]  # nodes already in the cluster
    unfinished: tuple[str, ...] = ()  # a kubeadm init/join started there and did not finish
    stages: tuple[str, ...] = PLAYBOOK_STAGES  # the playbook stages to run
    recheck: str = ""  # why every stage runs on a cluster that needs no init or join
    drift: tuple[str, ...] = ()  # what moved since the last converged run, a line per host

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
        if self.unfinished:
            out.append(f"a kubeadm run did not finish on {', '.join(self.unfinished)}: reset there and run again")
        if self.join_control_planes:
            out.append(f"join control planes {', '.join(self.join_control_planes)} (one at a time)")
        if self.join_workers:
            out.append(f"join workers {', '.join(self.join_workers)}")
        if self.members:
            out.append(f"already members: {', '.join(self.members)}")
        if not self.converged:
            return out
        if self.drift:
            out.extend(f"drift on {line}" for line in self.drift)
            out.append(f"re-run {', '.join(self.stages)} to put it back")
        elif self.stages:
            out.append(f"every node is a member; re-check every host ({self.recheck})")
        else:
            out.append("nothing to do: every node is a member and nothing drifted since the last up "
                       "(--full runs every playbook anyway)")
        return out


def make_plan(cluster: Cluster, facts: dict[str, HostFacts], *, record: Converged | None = None,
              inputs: str = "", full: bool = False) -> Plan:
    """record and inputs: the last converged run and the digest of this run's inputs; the playbooks
    are skipped only when those match and no drift value moved."""
    spec = cluster.spec
    first = spec.control_planes[0].name
    initialised = [n.name for n in spec.control_planes if facts[n.name].admin_conf]
    if initialised and first not in initialised:
        raise HomelabError(
            f"the cluster was initialised on {', '.join(initialised)}, but {first} (the first control plane "
            "in the spec) has no /etc/kubernetes/admin.conf",
            hint=f"list {initialised[0]} first among the control planes in the spec",
        )
    # kubeadm writes admin.conf and kubelet.conf early: a control plane counts once the roles' marker
    # says its init or join finished.
    complete = {n.name for n in spec.control_planes if facts[n.name].control_plane_complete}
    members = [n.name for n in spec.nodes if facts[n.name].is_member and (not n.is_control_plane or n.name in complete)]
    unfinished = [n.name for n in spec.control_planes
                  if n.name not in complete and (facts[n.name].admin_conf or facts[n.name].kubelet_conf)]
    plan = Plan(
        cluster=cluster.name,
        init=None if complete else first,
        join_control_planes=[n.name for n in spec.control_planes
                             if n.name not in members and (complete or n.name != first)],
        join_workers=[n.name for n in spec.nodes if not n.is_control_plane and n.name not in members],
        members=members,
        unfinished=tuple(unfinished),
    )
    if not plan.converged:
        return plan
    return _rechecks(plan, cluster, facts, record, inputs, full)


def _rechecks(plan: Plan, cluster: Cluster, facts: dict[str, HostFacts], record: Converged | None,
              inputs: str, full: bool) -> Plan:
    from dataclasses import replace

    nodes = [n.name for n in cluster.spec.nodes]
    if full:
        return replace(plan, recheck="--full")
    if record is None:
        return replace(plan, recheck="no converged run recorded yet")
    if record.inputs != inputs:
        return replace(plan, recheck="the spec, the roles, the extra variables or the mirror changed since the last up")
    if sorted(record.hosts) != sorted(nodes):
        return replace(plan, recheck="the nodes changed since the last up")
    found = drift.changes(record.hosts, {n: facts[n].drift for n in nodes})
    cps = [n.name for n in cluster.spec.control_planes]
    return replace(plan, stages=drift.stages_for(found, cps), drift=tuple(drift.summary(found)))
