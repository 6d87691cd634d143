"""The roles' other decisions, run by Ansible on fake nodes (tests/unit/roles/harness.py) or read from
the playbooks: encryption key and providers (desk check #9), visible failures of token create and
upload-certs (#6), the run's join token deleted (#7), control planes joining one per batch (#13),
the reset order (#12), the kubeadm init command (#7) and super-admin.conf kept off the nodes (#8).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.roles.harness import ROLES, Node, Playground, Scenario, role_task

PLAYBOOKS = ROLES.parent / "playbooks"
KEY = base64.b64encode(b"k" * 32).decode()
OTHER = base64.b64encode(b"o" * 32).decode()


def _encryption(*providers: tuple[str, str]) -> dict[str, str]:
    """A slurp result of an EncryptionConfiguration with these (provider, key) pairs."""
    doc = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration", "resources": [{
        "resources": ["secrets"],
        "providers": [{name: {"keys": [{"name": "key1", "secret": key}]}} for name, key in providers]
        + [{"identity": {}}]}]}
    text = "# comment\n---\n" + yaml.safe_dump(doc)
    return {"content": base64.b64encode(text.encode()).decode()}


def _captured(task: dict[str, Any], fact: str) -> dict[str, Any]:
    """`task` in a block whose rescue keeps the failure message in `fact`."""
    return {"name": f"Run {task['name']}", "block": [task], "rescue": [
        {"name": "Keep the failure", "ansible.builtin.set_fact": {fact: "{{ ansible_failed_result.msg }}"}}]}


ENCRYPTION_SCENARIOS = [
    Scenario("new-cluster", {}, variables={"_kubeadm_init_complete": []}),
    Scenario("made-with-aescbc", {}, variables={
        "_kubeadm_init_complete": ["cp1"], "_kubeadm_init_encryption_cluster": _encryption(("aescbc", KEY)),
        "_kubeadm_init_encryption_current": _encryption(("aescbc", KEY))}),
    # a control plane added with --limit after the controller's key changed: no file of its own
    Scenario("another-key-in-the-cluster", {}, variables={
        "_kubeadm_init_complete": ["cp1"], "_kubeadm_init_encryption_cluster": _encryption(("secretbox", OTHER))}),
    # cp1 is not a member yet (cp2 runs the cluster): its stale file is rewritten with the cluster's key
    Scenario("stale-file-on-a-new-member", {}, variables={
        "_kubeadm_init_complete": ["cp2"], "_kubeadm_init_encryption_cluster": _encryption(("secretbox", KEY)),
        "_kubeadm_init_encryption_current": _encryption(("secretbox", OTHER))}),
    # cp1 is a member with another key than the one homelab-ctl holds: its Secrets would be lost
    Scenario("member-with-another-key", {}, variables={
        "_kubeadm_init_complete": ["cp2", "cp1"], "_kubeadm_init_encryption_cluster": _encryption(("secretbox", KEY)),
        "_kubeadm_init_encryption_current": _encryption(("secretbox", OTHER))}),
]


@pytest.fixture(scope="module")
def decisions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, Any]]]:
    playground = Playground(tmp_path_factory.mktemp("decisions"))
    compare = role_task("kubeadm_init", "encryption.yml", "Kubeadm init | Compare the encryption key with the cluster's"
                                                           " and the one in place")
    compare.pop("no_log")
    refuse = role_task("kubeadm_init", "encryption.yml", "Kubeadm init | Refuse to replace the encryption key of an"
                                                          " initialised cluster")
    create = role_task("kubeadm_join", "secrets.yml", "Kubeadm join | Create a bootstrap token")
    report = role_task("kubeadm_join", "secrets.yml", "Kubeadm join | Report a failed kubeadm token create")
    revoke = {"name": "Delete the token", "ansible.builtin.include_role": {"name": "kubeadm_join",
                                                                           "tasks_from": "revoke"}}
    common = {"kubeadm_init_encryption_key": KEY, "kubeadm_init_encryption_provider": "secretbox",
              "kubeadm_init_encryption_config_file": "/etc/kubernetes/encryption/config.yaml",
              "kubeadm_join_api_retries": 3, "kubeadm_join_api_delay": 0, "kubeadm_join_token_ttl": "30m",
              "kubeadm_join_token_description": "homelab-ctl join", "_kubeadm_join_server": "cp1",
              "_kubeadm_join_token": "abcdef.0123456789abcdef"}
    scenarios = [Scenario(s.name, s.nodes, variables={**common, **s.variables}) for s in ENCRYPTION_SCENARIOS]
    scenarios += [Scenario("api-up", {}, variables=common),
                  Scenario("api-down", {"cp1": Node(kubeadm="down")}, variables=common)]
    tasks = [compare, _captured(refuse, "refused"), create, _captured(report, "reported"), revoke]
    facts = playground.run(scenarios, tasks, ["_kubeadm_init_encryption_providers", "refused", "reported",
                                              "_kubeadm_join_token_delete"], hosts="cp1")
    for s in scenarios:
        calls = playground.root(s.name, "cp1") / "kubeadm.calls"
        facts[s.name]["cp1"]["kubeadm_calls"] = calls.read_text().splitlines() if calls.exists() else []
    facts["_output"] = {"": {"": playground.output}}
    return facts


@pytest.mark.parametrize(("scenario", "providers", "refused"), [
    ("new-cluster", ["secretbox"], False),
    ("made-with-aescbc", ["aescbc"], False),  # a running cluster keeps its providers: Secrets stay readable
    ("another-key-in-the-cluster", ["secretbox"], True),
    ("stale-file-on-a-new-member", ["secretbox"], False),
    ("member-with-another-key", ["secretbox"], True),
])
def test_encryption_key_is_compared_with_the_cluster(decisions: dict[str, Any], scenario: str, providers: list[str],
                                                     refused: bool) -> None:
    cp1 = decisions[scenario]["cp1"]
    assert cp1["_kubeadm_init_encryption_providers"] == providers
    assert (cp1["refused"] is not None) == refused
    if refused:
        assert "would make the Secrets unreadable" in cp1["refused"]
        assert KEY not in cp1["refused"] and OTHER not in cp1["refused"]


def test_encryption_template_renders_the_chosen_providers() -> None:
    from homelab_ctl.render import kubeadm

    env = kubeadm.environment(ROLES)
    template = env.get_template("kubeadm_init/templates/encryption-config.yaml.j2")
    base = {"kubeadm_init_encryption_key_name": "key1", "kubeadm_init_encryption_key": KEY,
            "kubeadm_init_encryption_provider": "secretbox"}
    for chosen, expected in ((None, ["secretbox", "identity"]), (["aescbc"], ["aescbc", "identity"])):
        context = base if chosen is None else {**base, "_kubeadm_init_encryption_providers": chosen}
        (doc,) = [d for d in yaml.safe_load_all(template.render(context)) if d]
        assert [next(iter(p)) for p in doc["resources"][0]["providers"]] == expected


def test_token_create_failures_show_kubeadms_error(decisions: dict[str, Any]) -> None:
    """no_log hides a failed task's output: the failure is reported by a separate task with stderr
    (which never holds the token: kubeadm prints it on stdout)."""
    down = decisions["api-down"]["cp1"]
    assert down["kubeadm_calls"][:3] == ["token create --ttl 30m --description homelab-ctl join"] * 3
    assert "connect: connection refused" in " ".join(map(str, down["reported"]))
    assert "abcdef.0123456789abcdef" not in json.dumps(down["reported"])
    up = decisions["api-up"]["cp1"]
    assert up["reported"] is None
    create = role_task("kubeadm_join", "secrets.yml", "Kubeadm join | Create a bootstrap token")
    upload = role_task("kubeadm_join", "secrets.yml",
                       "Kubeadm join | Upload the control plane certificates with a fresh certificate key")
    for task in (create, upload):
        assert task["no_log"] is True and task["failed_when"] is False
    role_task("kubeadm_join", "secrets.yml", "Kubeadm join | Report a failed certificate upload")


def test_the_runs_token_is_deleted_after_the_joins(decisions: dict[str, Any]) -> None:
    up = decisions["api-up"]["cp1"]
    assert up["kubeadm_calls"][-1] == "token delete abcdef"  # by its id: the secret part never on a command line
    down = decisions["api-down"]["cp1"]
    assert down["kubeadm_calls"][-1] == "token delete abcdef" and down["_kubeadm_join_token_delete"]["rc"] == 1
    assert "kubeadm token delete failed on cp1" in decisions["_output"][""][""]  # reported, not fatal
    main = yaml.safe_load((ROLES / "kubeadm_join" / "tasks" / "main.yml").read_text())
    (block,) = [t for t in main if "block" in t]
    assert [t["ansible.builtin.include_tasks"] for t in block["always"]] == ["revoke.yml"]


def test_kubeadm_init_uploads_no_certificates_and_prints_no_token() -> None:
    run = role_task("kubeadm_init", "init.yml", "Kubeadm init | Run kubeadm init")
    cmd = run["ansible.builtin.command"]["cmd"]
    assert "--upload-certs" not in cmd and "--skip-token-print" in cmd
    assert "creates" not in run["ansible.builtin.command"]  # admin.conf does not prove init finished


def test_control_planes_join_one_per_batch_with_their_own_token() -> None:
    """#13: a token and a certificate key created for all control planes expire while they join one
    after another; one batch per control plane gives each its own, right before its join."""
    plays = yaml.safe_load((PLAYBOOKS / "control_plane.yml").read_text())
    (join,) = [p for p in plays if any(t.get("ansible.builtin.include_role", {}).get("name") == "kubeadm_join"
                                       for t in p["tasks"])]
    assert join["serial"] == 1 and join["hosts"] == "kube_control_plane"
    probe = (ROLES / "kubeadm_join" / "tasks" / "probe.yml").read_text()
    assert "ansible_play_batch" in probe and "ansible_play_hosts" not in probe


def test_super_admin_conf_leaves_the_node_after_kube_vip_switched() -> None:
    """#8: fetched next to admin.conf (0600), removed from the node once kube-vip reads admin.conf."""
    plays = yaml.safe_load((PLAYBOOKS / "control_plane.yml").read_text())
    steps = [(t["ansible.builtin.include_role"]["name"], t["ansible.builtin.include_role"].get("tasks_from", "main"))
             for t in plays[0]["tasks"]]
    assert steps == [("kube_packages", "main"), ("kube_vip", "main"), ("kubeadm_init", "main"), ("kube_vip", "main"),
                     ("kubeadm_init", "remove_super_admin")]
    defaults = yaml.safe_load((ROLES / "kubeadm_init" / "defaults" / "main.yml").read_text())
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    for admin, super_admin in (("/state/home/admin.conf", "/state/home/super-admin.conf"), ("", "")):
        templar = Templar(loader=DataLoader(), variables={"kubeadm_init_admin_conf_dest": admin})
        assert templar.template(trust_as_template(defaults["kubeadm_init_super_admin_conf_dest"])) == super_admin
    fetch = yaml.safe_load((ROLES / "kubeadm_init" / "tasks" / "fetch.yml").read_text())
    private = [t for t in fetch if "super-admin" in t["name"] and "ansible.builtin.file" in t]
    assert private and private[0]["ansible.builtin.file"]["mode"] == "0600"
    remove = role_task("kubeadm_init", "remove_super_admin.yml",
                       "Kubeadm init | Remove the super-admin kubeconfig from the control plane")
    assert any("checksum ==" in c for c in remove["when"])  # only when the controller holds the same file


# --- reset order (#12) ----------------------------------------------------------------------------
def test_reset_runs_workers_first_then_control_planes_one_at_a_time_the_first_last(tmp_path: Path) -> None:
    plays = yaml.safe_load((PLAYBOOKS / "reset.yml").read_text())
    assert [(p["hosts"], p.get("serial")) for p in plays] == [
        ("k8s_cluster", None), ("reset_workers", None), ("reset_control_planes", 1), ("reset_first_control_plane", None)]
    playground = Playground(tmp_path)
    group = plays[0]["tasks"]
    facts = playground.run([Scenario("reset", {}, variables={"homelab_first_control_plane": "cp2"})],
                           [*group, {"name": "Keep the groups", "ansible.builtin.set_fact": {"reset_groups": "{{ groups }}"}}],
                           ["reset_groups"], hosts=plays[0]["hosts"])
    groups = facts["reset"]["cp1"]["reset_groups"]
    assert groups["reset_workers"] == ["w1"]
    assert sorted(groups["reset_control_planes"]) == ["cp1", "cp3"]  # group_by order follows task completion
    assert groups["reset_first_control_plane"] == ["cp2"]
