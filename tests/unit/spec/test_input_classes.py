"""One test per class of bad input seen by new users: each is refused with a message at its path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from homelab_ctl.errors import SpecError
from homelab_ctl.spec import load, parse
from tests.unit.spec.specs import BASE, DELETE, spec, text


def errors(*changes: tuple[str, Any]) -> list[str]:
    _, problems = parse(text(*changes))
    return [f"{p.path}: {p.message}" for p in problems if p.severity == "error"]


def at(path: str, found: list[str]) -> list[str]:
    return [line for line in found if line.startswith(f"{path}: ")]


def test_base_spec_is_valid() -> None:
    assert errors() == []


# 1. A trailing newline passes a `$` pattern: every pattern-checked field must refuse it.
@pytest.mark.parametrize("path, value", [
    ("metadata.name", "home"),
    ("spec.nodes.0.name", "cp1"),
    ("spec.ssh.user", "admin"),
    ("spec.kubernetes.dnsDomain", "cluster.local"),
    ("spec.kubernetes.version", "1.36.3"),
    ("spec.network.flannel.iface", "eno1"),
    ("spec.kubernetes.controlPlaneEndpoint.interface", "eno1"),
    ("spec.addons.postgresOperator.clusters.0.name", "main"),
    ("spec.addons.postgresOperator.clusters.0.postgresVersion", "17"),
    ("spec.addons.postgresOperator.clusters.0.volume", "10Gi"),
    ("spec.nodes.0.identity.machineId", "0123456789abcdef0123456789abcdef"),
])
def test_trailing_newline_is_refused(path: str, value: Any) -> None:
    assert errors((path, value)) == []  # the same value without the newline is fine
    found = errors((path, value + "\n"))
    assert len(found) == 1, found
    assert found[0].startswith(path.replace(".0.", "[0].") + ": ")
    assert "\\n" in found[0]  # shown escaped, on one line


def test_trailing_newline_in_labels_and_a_version_block() -> None:
    found = errors(("spec.nodes.3.labels", {"disk\n": "ssd", "zone": "a\n"}))
    assert [line.split(":")[0] for line in found] == ["spec.nodes[3].labels['disk\\n']", "spec.nodes[3].labels.zone"]
    block = text().replace("version: 1.36.3", "version: |\n      1.36.3")
    assert "|" in block
    _, problems = parse(block)
    assert [p.path for p in problems] == ["spec.kubernetes.version"]


# 2. Node labels go to the kubelet's --node-labels: Kubernetes label syntax and the kubelet's own rules.
@pytest.mark.parametrize("key, value, why", [
    ("disk type", "ssd", "label key"),
    ("disk", "x" * 64, "label value"),
    ("disk", "ssd,gpu=true", "label value"),  # would inject a second label
    ("disk", "-ssd", "label value"),
    ("a" * 64, "x", "label key"),
    ("Example.com/disk", "x", "prefix"),
    ("/disk", "x", "prefix"),
    ("node-role.kubernetes.io/worker", "", "roles:"),
    ("kubernetes.io/role", "x", "kubernetes.io/k8s.io namespace"),
    ("example.k8s.io/x", "y", "kubernetes.io/k8s.io namespace"),
])
def test_bad_node_labels(key: str, value: str, why: str) -> None:
    found = errors(("spec.nodes.3.labels", {key: value}))
    assert len(found) == 1, found
    assert found[0].startswith("spec.nodes[3].labels") and why in found[0]


@pytest.mark.parametrize("key, value", [
    ("disk", ""), ("example.com/disk", "ssd"), ("kubevirt.io/schedulable", "true"),
    ("node.kubernetes.io/pool", "a"), ("topology.kubernetes.io/zone", "attic"), ("x.kubelet.kubernetes.io/y", "z"),
    ("a" * 63, "b" * 63),
])
def test_good_node_labels(key: str, value: str) -> None:
    assert errors(("spec.nodes.3.labels", {key: value})) == []


def test_taints_use_label_syntax() -> None:
    found = errors(("spec.nodes.3.taints", [{"key": "dedicated gpu", "value": "a,b"}]))
    assert [line.split(":")[0] for line in found] == ["spec.nodes[3].taints[0].key", "spec.nodes[3].taints[0].value"]


# 3. Values that reach a shell, a command line or a config line.
@pytest.mark.parametrize("path, value", [
    ("spec.ssh.user", "admin;reboot"), ("spec.ssh.user", "ad min"), ("spec.ssh.user", "a" * 33),
    ("spec.ssh.user", "-oProxyCommand=x"), ("spec.nodes.0.ssh", {"user": "$(id)"}),
    ("spec.network.flannel.iface", "eno1;reboot"), ("spec.network.flannel.iface", "eno 1"),
    ("spec.network.flannel.iface", "enp0s31f6-toolong"), ("spec.network.flannel.iface", ".."),
    ("spec.kubernetes.controlPlaneEndpoint.interface", "eth0,eth1"),
    ("spec.network.flannel", {"ifaceRegex": "^en\nx"}),
    ("spec.addons.postgresOperator.clusters.0.databases", {"app; drop": "app"}),
    ("spec.containerRuntime", {"registryMirrors": {"docker.io\nx": ["https://r.lan"]}}),
    ("spec.containerRuntime", {"registryMirrors": {"docker.io": ["https://r.lan\n"]}}),
    ("spec.addons.metallb.addresses", ["192.168.10.200-192.168.10.220\n"]),
])
def test_shell_and_config_values(path: str, value: Any) -> None:
    found = errors((path, value))
    assert len(found) == 1, found
    shown = path.replace(".0.", "[0].").replace(".0", "[0]")
    assert found[0].startswith(shown)


def test_registry_mirror_keys_are_directory_names() -> None:
    mirrors = {"docker.io": ["https://r.lan"], "registry.lan:5000": ["http://r.lan"], "_default": ["https://r.lan"]}
    assert errors(("spec.containerRuntime", {"registryMirrors": mirrors})) == []
    found = errors(("spec.containerRuntime", {"registryMirrors": {"../../etc": ["https://r.lan"]}}))
    assert len(found) == 1 and "not a registry host" in found[0]


@pytest.mark.parametrize("user", ["root", "admin", "ops_1", "svc-k8s", "first.last", "_ci", "a" * 32])
def test_plausible_users(user: str) -> None:
    assert errors(("spec.ssh.user", user)) == []


# 4. Address rules, with and without nodeCidr.
@pytest.mark.parametrize("changes, path, words", [
    ((("spec.nodes.1.address", "127.0.0.1"),), "spec.nodes[1].address", "loopback"),
    ((("spec.nodes.1.address", "0.0.0.0"),), "spec.nodes[1].address", "unspecified"),
    ((("spec.nodes.1.address", "239.1.2.3"),), "spec.nodes[1].address", "multicast"),
    ((("spec.nodes.1.address", "169.254.1.1"),), "spec.nodes[1].address", "link-local"),
    ((("spec.nodes.1.address", "fd00::12"),), "spec.nodes[1].address", "IPv6 but"),
    ((("spec.kubernetes.controlPlaneEndpoint.vip", "fd00::50"),), "spec.kubernetes.controlPlaneEndpoint.vip",
     "IPv6 but"),
    ((("spec.kubernetes.controlPlaneEndpoint.vip", "127.0.0.1"),), "spec.kubernetes.controlPlaneEndpoint.vip",
     "loopback"),
    ((("spec.kubernetes.controlPlaneEndpoint.vip", "192.168.10.0"),), "spec.kubernetes.controlPlaneEndpoint.vip",
     "network address"),
    ((("spec.kubernetes.controlPlaneEndpoint.vip", "192.168.10.255"),), "spec.kubernetes.controlPlaneEndpoint.vip",
     "broadcast address"),
    ((("spec.nodes.3.address", "192.168.10.255"),), "spec.nodes[3].address", "broadcast address"),
    ((("spec.kubernetes.podSubnet", "fd10::/56"),), "spec.kubernetes.podSubnet", "IPv6 but"),
    ((("spec.addons.metallb.addresses", ["192.168.11.0/28"]),), "spec.addons.metallb.addresses[0]",
     "outside network.nodeCidr"),
    ((("spec.kubernetes.podSubnet", "10.244.0.0/26"),), "spec.kubernetes.podSubnet", "too small"),
    ((("spec.kubernetes.podSubnet", "10.244.0.0/23"),), "spec.kubernetes.podSubnet", "room for 2 nodes"),
    ((("spec.kubernetes.podSubnet", "10.0.0.0/7"),), "spec.kubernetes.podSubnet", "too large"),
    ((("spec.kubernetes.serviceSubnet", "10.0.0.0/11"),), "spec.kubernetes.serviceSubnet", "too large"),
    ((("spec.kubernetes.serviceSubnet", "10.96.0.0/28"),), "spec.kubernetes.serviceSubnet", "implausibly small"),
])
def test_address_rules(changes: tuple[tuple[str, Any], ...], path: str, words: str) -> None:
    for without_node_cidr in (False, True):
        extra = (("spec.network.nodeCidr", DELETE),) if without_node_cidr else ()
        if without_node_cidr and any(w in words for w in ("nodeCidr", "network address", "broadcast")):
            continue  # these rules need the LAN
        found = at(path, errors(*changes, *extra))
        assert any(words in line for line in found), (without_node_cidr, found)


def test_single_stack_ipv6_is_valid() -> None:
    nodes = [{"name": f"n{i}", "address": f"fd00::{i + 10}", "roles": ["control-plane"]} for i in range(3)]
    assert errors(("spec.nodes", nodes), ("spec.network.nodeCidr", "fd00::/64"),
                  ("spec.kubernetes.podSubnet", "fd10::/56"), ("spec.kubernetes.serviceSubnet", "fd20::/112"),
                  ("spec.kubernetes.controlPlaneEndpoint.vip", "fd00::50"), ("spec.addons", {})) == []


def test_pod_subnet_must_fit_every_node() -> None:
    nodes = [{"name": f"n{i}", "address": f"192.168.10.{i + 11}", "roles": ["worker"]} for i in range(5)]
    nodes[0]["roles"] = ["control-plane"]
    assert at("spec.kubernetes.podSubnet", errors(("spec.nodes", nodes), ("spec.kubernetes.podSubnet", "10.1.0.0/22")))
    assert errors(("spec.nodes", nodes), ("spec.kubernetes.podSubnet", "10.1.0.0/21")) == []


# 5. Files and variables the spec points at (load with check_files, as validate, render and up do).
def _load(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    import yaml

    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(data))
    try:
        loaded = load(path, check_files=True)
    except SpecError as exc:
        return exc.problems
    return [f"warning {w}" for w in loaded.warnings]


def _backup(access: dict[str, str], secret: dict[str, str]) -> tuple[str, Any]:
    return ("spec.addons.postgresOperator.backup", {"endpoint": "http://192.168.10.5:9000", "bucket": "pg-backups",
                                                     "accessKeyId": access, "secretAccessKey": secret})


def test_files_the_spec_points_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("NOT_SET", raising=False)
    monkeypatch.setenv("EMPTY", "")
    (tmp_path / "empty").write_text("")
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "keys").mkdir()
    found = _load(tmp_path, spec(
        ("spec.ssh.privateKeyFile", "~/.ssh/id_ed25519"), ("spec.ssh.knownHostsFile", "keys"),
        ("spec.nodes.1.ssh", {"privateKeyFile": "keys"}), ("spec.nodes.2.ssh", {"knownHostsFile": "a-file/x"}),
        _backup({"env": "NOT_SET"}, {"file": "missing"}), ("spec.artifacts", {"dir": "a-file"})))
    assert [line.split(":")[0] for line in found] == [
        "spec.ssh.privateKeyFile", "spec.ssh.knownHostsFile", "spec.nodes[1].ssh.privateKeyFile",
        "spec.nodes[2].ssh.knownHostsFile", "spec.addons.postgresOperator.backup.accessKeyId.env",
        "spec.addons.postgresOperator.backup.secretAccessKey.file", "spec.artifacts.dir"]
    assert "does not exist" in found[0] and str(tmp_path / "home") in found[0]
    assert "is a directory" in found[1] and "is a directory" in found[2]
    assert "a part of the path is a file" in found[3]
    assert "NOT_SET is not set" in found[4] and "does not exist" in found[5] and "not a directory" in found[6]
    found = _load(tmp_path, spec(_backup({"env": "EMPTY"}, {"file": "empty"}), ("spec.artifacts", {"dir": "nope"})))
    assert ["is empty" in line for line in found] == [True, True, False]


def test_files_that_exist_pass_and_a_new_known_hosts_is_a_warning(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PG_KEY", "id")
    for name in ("key", "secret"):
        (tmp_path / name).write_text("x")
    (tmp_path / "mirror").mkdir()
    found = _load(tmp_path, spec(("spec.ssh.privateKeyFile", "key"), ("spec.ssh.knownHostsFile", "new_known_hosts"),
                                 _backup({"env": "PG_KEY"}, {"file": str(tmp_path / "secret")}),
                                 ("spec.artifacts", {"dir": "mirror"})))
    assert len(found) == 1 and found[0].startswith("warning spec.ssh.knownHostsFile: ") and "created" in found[0]


def test_parse_alone_does_not_look_at_files() -> None:
    assert errors(("spec.ssh.privateKeyFile", "/nonexistent/key")) == []


# 8. Hidden problems: every problem at once, cross-field ones included; nothing echoed raw.
def test_a_bad_field_hides_no_cross_field_problem() -> None:
    found = errors(("spec.nodes.0.name", "CP1"), ("spec.nodes.1.address", "192.168.10.13"),
                   ("spec.kubernetes.podSubnet", "10.244.0.0/33"),
                   ("spec.kubernetes.controlPlaneEndpoint.vip", "192.168.10.21"),
                   ("spec.addons.metallb.addresses", ["192.168.10.0/33", "10.96.0.0/24"]))
    assert [line.split(": ")[0] for line in found] == [
        "spec.kubernetes.podSubnet", "spec.nodes[0].name",  # field errors, by line
        "spec.nodes[2].address",  # the duplicate address, although nodes[0] is invalid
        "spec.kubernetes.controlPlaneEndpoint.vip",  # the VIP is a node's address
        "spec.addons.metallb.addresses[0]", "spec.addons.metallb.addresses[1]"]
    assert "already used by spec.nodes[1]" in found[2]
    assert "overlaps serviceSubnet" in found[5]


def test_broken_sections_still_let_other_rules_run() -> None:
    found = errors(("spec.kubernetes", "not a mapping"), ("spec.nodes.1.name", "cp1"), ("spec.nodes.2", "cp3"))
    assert [line.split(": ")[0] for line in found] == ["spec.kubernetes", "spec.nodes[2]", "spec.nodes[1].name"]


def test_count_of_control_planes_needs_every_role() -> None:
    found = errors(("spec.nodes.3.roles", ["worker", "boss"]), ("spec.nodes.2.roles", ["worker"]))
    assert [line.split(": ")[0] for line in found] == ["spec.nodes[3].roles[1]"]  # no guess about the count
    found = errors(("spec.nodes.3.name", "W1"), ("spec.nodes.2.roles", ["worker"]))
    assert [line.split(": ")[0] for line in found] == ["spec.nodes[3].name", "spec.nodes"]  # 2 control planes


def test_merge_keys_and_anchors_are_understood() -> None:
    doc = text().replace("- name: w1", "- <<: *cp\n    name: w1").replace("- name: cp1", "- &cp\n    name: cp1")
    assert "<<: *cp" in doc
    cluster, problems = parse(doc)
    assert cluster is not None and [p for p in problems if p.severity == "error"] == []
    assert cluster.spec.nodes[3].roles == ["worker"] and cluster.spec.nodes[3].name == "w1"


def test_huge_values_and_escapes_are_cut_and_escaped() -> None:
    found = errors(("metadata.name", "\x1b[31mred\x1b[0m"), ("spec.nodes.0.name", "x" * 100_000),
                   ("spec.nodes.1.name", "[/]"), ("spec.nodes.1.labels", {"\x1b]0;title\x07" * 1000: "v"}))
    assert all("\x1b" not in line and "\x07" not in line and len(line) < 400 for line in found), found
    assert "'\\x1b[31mred\\x1b[0m'" in found[0]
    assert "(100000 characters)" in found[1]


def test_unknown_field_suggestion_and_inline_secret_still_work() -> None:
    found = errors(("spec.ssh.privatKeyFile", "x"), _backup({"env": "A"}, "hunter2"))  # type: ignore[arg-type]
    assert found[0] == "spec.ssh.privatKeyFile: unknown field (did you mean 'privateKeyFile'?)"
    assert "hunter2" not in "\n".join(found)
    assert BASE["spec"]["ssh"] == {"user": "admin"}  # the shared base is untouched
