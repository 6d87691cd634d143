"""The plan of `up` from recorded facts: who is initialised, who joins, when nothing is left."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from homelab_ctl.errors import HomelabError
from homelab_ctl.facts.models import HostFacts
from homelab_ctl.plan import Plan, make_plan
from homelab_ctl.plan.drift import PLAYBOOK_STAGES, Converged
from homelab_ctl.spec import load

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SPEC = FIXTURES / "specs" / "valid" / "3cp-2w-vip.yaml"


def _facts(members: dict[str, tuple[bool, bool]], unfinished: tuple[str, ...] = (),
           drift: dict[str, dict[str, str]] | None = None) -> dict[str, HostFacts]:
    """node -> (kubelet.conf, admin.conf), on top of a recorded lab machine's facts; a control plane
    with kubelet.conf has the roles' completion marker unless it is listed in unfinished."""
    base = json.loads(next((FIXTURES / "facts").glob("lab-*.json")).read_text())
    base = base.get("facts", base)
    out = {}
    for node, (kubelet, admin) in members.items():
        complete = node.startswith("cp") and kubelet and node not in unfinished
        out[node] = HostFacts.model_validate({**base, "node": node, "kubelet_conf": kubelet, "admin_conf": admin,
                                              "control_plane_complete": complete,
                                              "drift": (drift or {}).get(node, DRIFT)})
    return out


NODES = ["cp1", "cp2", "cp3", "w1", "w2"]
DRIFT = {"file:/etc/containerd/config.toml": "aa", "file:/etc/kubernetes/manifests/kube-vip.yaml": "bb",
         "package:kubelet": "1.36.3-1.1 hold installed", "sysctl:net.ipv4.ip_forward": "1",
         "service:containerd": "active enabled"}
CONVERGED = {n: (True, n.startswith("cp")) for n in NODES}


def test_bare_machines_init_on_first_then_join_all() -> None:
    plan = make_plan(load(SPEC).cluster, _facts(dict.fromkeys(NODES, (False, False))))
    assert plan.init == "cp1"
    assert plan.join_control_planes == ["cp2", "cp3"]
    assert plan.join_workers == ["w1", "w2"]
    assert not plan.converged


def test_partial_run_resumes_with_the_missing_joins() -> None:
    state = {"cp1": (True, True), "cp2": (True, True), "cp3": (False, False), "w1": (True, False), "w2": (False, False)}
    plan = make_plan(load(SPEC).cluster, _facts(state))
    assert (plan.init, plan.join_control_planes, plan.join_workers) == (None, ["cp3"], ["w2"])
    assert plan.members == ["cp1", "cp2", "w1"]


def test_converged_cluster_has_nothing_to_do() -> None:
    state = {n: (True, n.startswith("cp")) for n in NODES}
    plan = make_plan(load(SPEC).cluster, _facts(state))
    assert plan.converged and plan.init is None and plan.joins == []
    assert plan.lines()[-1] == "every node is a member; re-check every host (no converged run recorded yet)"


def test_cluster_initialised_elsewhere_is_refused() -> None:
    state = {"cp1": (False, False), "cp2": (True, True), "cp3": (True, True), "w1": (True, False), "w2": (True, False)}
    with pytest.raises(HomelabError, match="initialised on cp2, cp3"):
        make_plan(load(SPEC).cluster, _facts(state))


def test_half_finished_init_is_planned_again_not_taken_for_a_cluster() -> None:
    # kubeadm init killed after it wrote admin.conf and kubelet.conf: no completion marker
    state = {"cp1": (True, True), **dict.fromkeys(NODES[1:], (False, False))}
    plan = make_plan(load(SPEC).cluster, _facts(state, unfinished=("cp1",)))
    assert plan.init == "cp1" and plan.unfinished == ("cp1",)
    assert plan.join_control_planes == ["cp2", "cp3"] and plan.members == []
    assert any("did not finish on cp1" in line for line in plan.lines())


def test_half_joined_control_plane_joins_again() -> None:
    plan = make_plan(load(SPEC).cluster, _facts(CONVERGED, unfinished=("cp3",)))
    assert (plan.init, plan.join_control_planes, plan.unfinished) == (None, ["cp3"], ("cp3",))
    assert plan.stages == PLAYBOOK_STAGES


def _converged_plan(**kwargs: Any) -> Plan:
    record = Converged(inputs="digest", hosts={n: DRIFT for n in NODES})
    options = {"record": record, "inputs": "digest", **kwargs}
    drift = options.pop("drift", None)
    return make_plan(load(SPEC).cluster, _facts(CONVERGED, drift=drift), **options)


def test_nothing_drifted_runs_no_playbook() -> None:
    plan = _converged_plan()
    assert plan.converged and plan.stages == () and plan.drift == ()
    assert plan.lines()[-1].startswith("nothing to do")


@pytest.mark.parametrize(("why", "options"), [
    ("no converged run recorded yet", {"record": None}),
    ("changed since the last up", {"inputs": "another digest"}),
    ("--full", {"full": True}),
])
def test_every_stage_runs_without_a_matching_record(why: str, options: dict[str, Any]) -> None:
    plan = _converged_plan(**options)
    assert plan.stages == PLAYBOOK_STAGES and why in plan.recheck


@pytest.mark.parametrize(("node", "key", "value", "stages", "said"), [
    ("w2", "sysctl:net.ipv4.ip_forward", "0", ("prepare",), "sysctl net.ipv4.ip_forward: 0 (was 1)"),
    ("cp2", "service:containerd", "inactive enabled", ("prepare",),
     "service containerd: inactive enabled (was active enabled)"),
    ("cp1", "file:/etc/containerd/config.toml", "cc", ("prepare",), "/etc/containerd/config.toml changed"),
    ("cp3", "file:/etc/kubernetes/manifests/kube-vip.yaml", "-", ("control-plane",),
     "/etc/kubernetes/manifests/kube-vip.yaml missing"),
    ("w1", "package:kubelet", "1.36.3-1.1 install installed", ("workers",),
     "package kubelet: 1.36.3-1.1 install installed (was 1.36.3-1.1 hold installed)"),
    ("cp1", "package:kubelet", "1.36.3-1.1 install installed", ("control-plane",),
     "package kubelet: 1.36.3-1.1 install installed (was 1.36.3-1.1 hold installed)"),
])
def test_drift_reruns_the_stage_that_owns_it(node: str, key: str, value: str, stages: tuple[str, ...],
                                             said: str) -> None:
    plan = _converged_plan(drift={node: {**DRIFT, key: value}})
    assert plan.stages == stages
    assert plan.drift == (f"{node}: {said}",)
    assert plan.lines()[-1] == f"re-run {', '.join(stages)} to put it back"


def test_drift_on_two_hosts_runs_both_stages_in_order() -> None:
    drift = {"w1": {**DRIFT, "package:kubelet": "x"}, "cp1": {**DRIFT, "service:containerd": "failed"}}
    plan = _converged_plan(drift=drift)
    assert plan.stages == ("prepare", "workers")
    assert [line.split(":")[0] for line in plan.drift] == ["cp1", "w1"]


def test_a_node_not_in_the_record_rechecks_everything() -> None:
    record = Converged(inputs="digest", hosts={n: DRIFT for n in NODES[:-1]})
    plan = make_plan(load(SPEC).cluster, _facts(CONVERGED), record=record, inputs="digest")
    assert plan.stages == PLAYBOOK_STAGES and "nodes changed" in plan.recheck
