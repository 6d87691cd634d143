"""When is kubeadm init or join finished? The roles' own probe and decision tasks, run by Ansible on
fake nodes (tests/unit/roles/harness.py: local connection, nothing outside the test directory).

kubeadm writes admin.conf (init, and control plane joins) and kubelet.conf long before it is done;
a half-finished init or join must be recognised and undone, not taken for a cluster (desk check #1,
#2). The three roles that ask must agree: kubeadm_init (init, or undo and init again), kube_vip
(super-admin.conf during init) and kubeadm_join (who joins, which control plane makes the token).
"""

from __future__ import annotations

import filecmp
from pathlib import Path
from typing import Any

import pytest

from tests.unit.roles.harness import ROLES, Node, Playground, Scenario, role_task

ADMIN = "/etc/kubernetes/admin.conf"
MARKER = "/etc/kubernetes/.homelab-control-plane-complete"
KUBELET_CONF = "/etc/kubernetes/kubelet.conf"
ETCD_POD = "/etc/kubernetes/manifests/etcd.yaml"
CP_PODS = [f"/etc/kubernetes/manifests/{c}.yaml" for c in ("kube-apiserver", "kube-controller-manager",
                                                              "kube-scheduler")]
JOINED_CP = [ADMIN, KUBELET_CONF, ETCD_POD, *CP_PODS, "/etc/kubernetes/pki/ca.crt", "/var/lib/kubelet/config.yaml",
             "/var/lib/etcd/member", MARKER]
JOINED_WORKER = [KUBELET_CONF, "/etc/kubernetes/pki/ca.crt", "/var/lib/kubelet/config.yaml"]


def _when(task: dict[str, Any]) -> str:
    conditions = task["when"] if isinstance(task["when"], list) else [task["when"]]
    return "{{ " + " and ".join(f"({c})" for c in conditions) + " }}"


def test_the_three_roles_share_one_probe_script() -> None:
    scripts = [ROLES / role / "files" / "control-plane-state.sh" for role in ("kubeadm_init", "kube_vip", "kubeadm_join")]
    assert all(filecmp.cmp(scripts[0], other, shallow=False) for other in scripts[1:])
    import yaml

    markers = {yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())[f"{role}_complete_marker"]
               for role in ("kubeadm_init", "kube_vip", "kubeadm_join")}
    assert markers == {MARKER}


# --- kubeadm_init ---------------------------------------------------------------------------------
INIT_SCENARIOS = [
    Scenario("fresh", {}),
    # kubeadm init died after its kubeconfig phase (wait-control-plane timed out): the API is down
    Scenario("half-init-api-down", {"cp1": Node([ADMIN, *CP_PODS, ETCD_POD])}),
    Scenario("half-init-no-configmap", {"cp1": Node([ADMIN], configmap="notfound")}),
    Scenario("half-init-forbidden", {"cp1": Node([ADMIN], configmap="forbidden")}),
    Scenario("half-init-no-kubectl", {"cp1": Node([ADMIN])}, kubectl=False),
    Scenario("complete", {"cp1": Node([ADMIN, MARKER])}),
    # made before the marker existed: the kubeadm-config ConfigMap proves init finished
    Scenario("before-the-marker", {"cp1": Node([ADMIN], configmap="ok")}),
    Scenario("first-rebuilt", {"cp2": Node([ADMIN, MARKER])}),
    Scenario("first-half-joined-to-a-running-cluster", {"cp1": Node([ADMIN]), "cp3": Node([ADMIN, MARKER])}),
]


@pytest.fixture(scope="module")
def init_facts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, Any]]]:
    """kubeadm_init's probe and decisions, and kube_vip's choice, in one ansible-playbook run."""
    playground = Playground(tmp_path_factory.mktemp("init"))
    undo = role_task("kubeadm_init", "init.yml", "Kubeadm init | Undo a half-finished kubeadm init")
    run = role_task("kubeadm_init", "init.yml", "Kubeadm init | Run kubeadm init")
    tasks = [
        {"name": "Probe as kubeadm_init does", "ansible.builtin.include_role": {
            "name": "kubeadm_init", "tasks_from": "probe"},
         "vars": {"kubeadm_init_probe_retries": 3, "kubeadm_init_probe_delay": 0}},
        {"name": "Decide as init.yml does", "ansible.builtin.set_fact": {
            "decided_undo": _when(undo), "decided_init": _when(run)}},
        {"name": "Choose as kube_vip does", "ansible.builtin.include_role": {"name": "kube_vip", "tasks_from": "probe"},
         "when": "inventory_hostname in groups['kube_control_plane']"},
    ]
    facts = playground.run(INIT_SCENARIOS, tasks, ["_kubeadm_init_complete", "_kubeadm_init_unfinished",
                                                   "_kubeadm_init_state", "decided_undo", "decided_init",
                                                   "_kube_vip_kubeconfig"])
    facts["_calls"] = {s.name: {"cp1": _calls(playground.root(s.name, "cp1"))} for s in INIT_SCENARIOS}
    return facts


def _calls(root: Path) -> int:
    calls = root / "kubectl.calls"
    return len(calls.read_text().splitlines()) if calls.exists() else 0


@pytest.mark.parametrize(("scenario", "complete", "unfinished", "state", "undo", "init"), [
    ("fresh", [], [], "absent", False, True),
    ("half-init-api-down", [], ["cp1"], "unknown unreachable", True, True),
    ("half-init-no-configmap", [], ["cp1"], "unfinished no-configmap", True, True),
    ("half-init-forbidden", [], ["cp1"], "unfinished forbidden", True, True),
    ("half-init-no-kubectl", [], ["cp1"], "unknown no-kubectl", True, True),
    ("complete", ["cp1"], [], "complete marker", False, False),
    ("before-the-marker", ["cp1"], [], "complete configmap", False, False),
    ("first-rebuilt", ["cp2"], [], "absent", False, False),
    ("first-half-joined-to-a-running-cluster", ["cp3"], ["cp1"], "unknown unreachable", False, False),
])
def test_kubeadm_init_initialises_again_after_a_half_finished_init(
        init_facts: dict[str, Any], scenario: str, complete: list[str], unfinished: list[str], state: str,
        undo: bool, init: bool) -> None:
    cp1 = init_facts[scenario]["cp1"]
    assert cp1["_kubeadm_init_complete"] == complete
    assert cp1["_kubeadm_init_unfinished"] == unfinished
    assert cp1["_kubeadm_init_state"] == state
    assert (cp1["decided_undo"], cp1["decided_init"]) == (undo, init)


def test_kubeadm_init_asks_again_only_while_the_api_does_not_answer(init_facts: dict[str, Any]) -> None:
    calls = init_facts["_calls"]
    # kubeadm_init_probe_retries (3), plus kube_vip's one look (it does not insist)
    assert calls["half-init-api-down"]["cp1"] == 3 + 1
    assert calls["half-init-no-configmap"]["cp1"] == 1 + 1
    assert calls["complete"]["cp1"] == 0  # the marker needs no API


# --- kube_vip -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("scenario", "first"), [
    ("fresh", "super-admin.conf"),
    ("half-init-api-down", "super-admin.conf"),  # init is redone: admin.conf has no rights yet
    ("half-init-no-kubectl", "super-admin.conf"),
    ("complete", "admin.conf"),
    ("before-the-marker", "admin.conf"),
])
def test_kube_vip_reads_super_admin_conf_until_init_really_finished(init_facts: dict[str, Any], scenario: str,
                                                                   first: str) -> None:
    facts = init_facts[scenario]
    assert facts["cp1"]["_kube_vip_kubeconfig"] == first
    assert facts["cp2"]["_kube_vip_kubeconfig"] == facts["cp3"]["_kube_vip_kubeconfig"] == "admin.conf"


# --- kubeadm_join ---------------------------------------------------------------------------------
def _cluster(**changes: Node) -> dict[str, Node]:
    nodes = {"cp1": Node(list(JOINED_CP)), "cp2": Node(list(JOINED_CP)), "cp3": Node(list(JOINED_CP)),
             "w1": Node(list(JOINED_WORKER))}
    nodes.update(changes)
    return nodes


JOIN_SCENARIOS = [
    Scenario("converged", _cluster()),
    # a worker join that died during the kubelet's TLS bootstrap: everything but kubelet.conf
    Scenario("worker-half-joined", _cluster(w1=Node(["/etc/kubernetes/bootstrap-kubelet.conf", "/etc/kubernetes/pki/ca.crt",
                                                      "/var/lib/kubelet/config.yaml"]))),
    # a control plane join that died after kubelet-start, before etcd-join; its admin.conf reaches
    # the running cluster (the ConfigMap answers), but it has not joined
    Scenario("cp-died-before-etcd", _cluster(cp2=Node([ADMIN, KUBELET_CONF, *CP_PODS, "/etc/kubernetes/pki/ca.crt",
                                                       "/var/lib/kubelet/config.yaml"], configmap="ok"))),
    # died after etcd-join (wait-control-plane, mark-control-plane): no marker, no control-plane label
    Scenario("cp-died-after-etcd", _cluster(cp3=Node([ADMIN, KUBELET_CONF, ETCD_POD, *CP_PODS, "/var/lib/etcd/member"],
                                                     configmap="ok", nodes="unlabelled"))),
    Scenario("cp-died-after-etcd-no-kubectl",
             _cluster(cp3=Node([ADMIN, KUBELET_CONF, ETCD_POD, *CP_PODS, "/var/lib/etcd/member"])), kubectl=False),
    # joined before the marker existed: the API lists it with the control-plane label
    Scenario("cp-joined-before-the-marker", _cluster(cp2=Node([ADMIN, KUBELET_CONF, ETCD_POD, *CP_PODS],
                                                              configmap="ok", nodes="labelled"))),
    Scenario("first-rebuilt", _cluster(cp1=Node([]))),
    Scenario("only-a-half-finished-init", {"cp1": Node([ADMIN, KUBELET_CONF, ETCD_POD, *CP_PODS])}),
]


@pytest.fixture(scope="module")
def join_facts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, Any]]]:
    playground = Playground(tmp_path_factory.mktemp("join"))
    tasks = [{"name": "Probe as kubeadm_join does", "ansible.builtin.include_role": {
        "name": "kubeadm_join", "tasks_from": "probe"}}]
    return playground.run(JOIN_SCENARIOS, tasks, ["_kubeadm_join_pending", "_kubeadm_join_leftovers",
                                                  "_kubeadm_join_server", "_kubeadm_join_unmarked"])


@pytest.mark.parametrize(("scenario", "pending", "server"), [
    ("converged", [], "cp1"),
    ("worker-half-joined", ["w1"], "cp1"),
    ("cp-died-before-etcd", ["cp2"], "cp1"),
    ("cp-died-after-etcd", ["cp3"], "cp1"),
    ("cp-died-after-etcd-no-kubectl", ["cp3"], "cp1"),
    ("cp-joined-before-the-marker", [], "cp1"),
    ("first-rebuilt", ["cp1"], "cp2"),
    ("only-a-half-finished-init", ["cp1", "cp2", "cp3", "w1"], ""),  # nobody runs the cluster: no token
])
def test_kubeadm_join_finds_half_finished_joins(join_facts: dict[str, Any], scenario: str, pending: list[str],
                                                server: str) -> None:
    facts = join_facts[scenario]
    assert facts["w1"]["_kubeadm_join_pending"] == pending
    assert {h["_kubeadm_join_server"] for h in facts.values()} == {server}


def test_kubeadm_join_resets_what_a_started_join_left(join_facts: dict[str, Any]) -> None:
    worker = join_facts["worker-half-joined"]["w1"]["_kubeadm_join_leftovers"]
    assert worker == ["/etc/kubernetes/bootstrap-kubelet.conf", "/etc/kubernetes/pki/ca.crt",
                      "/var/lib/kubelet/config.yaml"]
    cp2 = join_facts["cp-died-before-etcd"]["cp2"]["_kubeadm_join_leftovers"]
    assert KUBELET_CONF in cp2 and ADMIN in cp2 and CP_PODS[0] in cp2
    assert join_facts["first-rebuilt"]["cp1"]["_kubeadm_join_leftovers"] == []  # a clean host joins directly


def test_kubeadm_join_marks_control_planes_joined_before_the_marker(join_facts: dict[str, Any]) -> None:
    assert join_facts["cp-joined-before-the-marker"]["cp2"]["_kubeadm_join_unmarked"] is True
    assert join_facts["converged"]["cp2"]["_kubeadm_join_unmarked"] is False
