"""The plan of `up` from recorded facts: who is initialised, who joins, when nothing is left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from homelab_ctl.errors import HomelabError
from homelab_ctl.facts.models import HostFacts
from homelab_ctl.plan import make_plan
from homelab_ctl.spec import load

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SPEC = FIXTURES / "specs" / "valid" / "3cp-2w-vip.yaml"


def _facts(members: dict[str, tuple[bool, bool]]) -> dict[str, HostFacts]:
    """node -> (kubelet.conf, admin.conf), on top of a recorded lab machine's facts."""
    base = json.loads(next((FIXTURES / "facts").glob("lab-*.json")).read_text())
    base = base.get("facts", base)
    out = {}
    for node, (kubelet, admin) in members.items():
        out[node] = HostFacts.model_validate({**base, "node": node, "kubelet_conf": kubelet, "admin_conf": admin})
    return out


NODES = ["cp1", "cp2", "cp3", "w1", "w2"]


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
    assert plan.converged
    assert plan.lines()[-1].startswith("nothing to do")


def test_cluster_initialised_elsewhere_is_refused() -> None:
    state = {"cp1": (False, False), "cp2": (True, True), "cp3": (True, True), "w1": (True, False), "w2": (True, False)}
    with pytest.raises(HomelabError, match="initialised on cp2, cp3"):
        make_plan(load(SPEC).cluster, _facts(state))
