"""Property-based tests (hypothesis): specs with mutated fields never crash the command line, and
every spec that validates renders an inventory Ansible accepts and kubeadm configurations with
valid names. Plus a bounded fuzz run of the loader on arbitrary and mangled text."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from homelab_ctl.errors import ExitCode
from homelab_ctl.spec import labels, parse
from homelab_ctl.spec.yamlfile import InputError, decode
from tests.unit.cli.inproc import invoke
from tests.unit.spec.specs import BASE, DELETE, spec

RFC1123_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
BOUNDED = settings(max_examples=int(os.environ.get("HOMELAB_HYPOTHESIS_EXAMPLES", "30")), deadline=None,
                   database=None, derandomize=bool(os.environ.get("CI")),
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _paths(node: Any, prefix: str = "") -> list[str]:
    out = [prefix[:-1]] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, f"{prefix}{key}.")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, f"{prefix}{i}.")
    return out


PATHS = [*_paths(BASE), "spec.nodes.3.labels.extra", "spec.nodes.0.ssh.user", "spec.ssh.privateKeyFile",
         "spec.network.flannel.ifaceRegex", "spec.kubernetes.controlPlaneEndpoint.interface", "spec.nodes.1.taints",
         "spec.unknownField"]
TRICKY = ["", " ", "\n", "cp1\n", "cp1 ", "x;reboot", "$(id)", "a b", "-x", "x" * 70, "\x1b[31m", "[/]", "{a}",
          "ÄÖ", "\uff11", "0", "true", "null", "10.0.0.1", "192.168.10.11", "192.168.10.255", "127.0.0.1", "::1",
          "fd00::1", "0.0.0.0", "224.0.0.1", "10.0.0.0/8", "10.244.0.0/26", "fd10::/56", "192.168.10.0/24",
          "1.36.3", "1.36.3\n", "1.99.0", "node-role.kubernetes.io/x", "a,b=c", "~/x", "/", "../x", "https://x",
          "eno1", "a" * 16, "control-plane", "worker", "v1.9.0", "192.168.10.200-192.168.10.100"]
VALUES = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=12),
    st.integers(min_value=-1, max_value=70_000),
    st.booleans(), st.none(), st.floats(allow_nan=True),
    st.lists(st.sampled_from(TRICKY), max_size=3),
    st.dictionaries(st.sampled_from(TRICKY), st.sampled_from(TRICKY), max_size=2),
    st.just(DELETE),
)
# Values of the right shape, so that many generated specs are valid and get rendered.
PLAUSIBLE = {
    "name": st.from_regex(r"[a-z0-9](?:[-a-z0-9]{0,8}[a-z0-9])?", fullmatch=True),
    "labels": st.dictionaries(st.from_regex(r"(?:[a-z0-9]{1,4}\.[a-z]{2,3}/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,6}"
                                            r"[A-Za-z0-9])?", fullmatch=True),
                              st.from_regex(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,6}[A-Za-z0-9])?)?", fullmatch=True),
                              max_size=3),
    "user": st.from_regex(r"[a-z_][a-z0-9_-]{0,8}", fullmatch=True),
    "address": st.integers(min_value=1, max_value=254).map(lambda i: f"192.168.10.{i}"),
    "iface": st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True),
}
MUTATION = st.one_of(
    st.tuples(st.sampled_from(PATHS), VALUES),
    st.sampled_from(sorted(PLAUSIBLE)).flatmap(
        lambda kind: st.tuples(st.sampled_from([p for p in PATHS if p.rsplit(".", 1)[-1] == kind]
                                               or ["spec.nodes.3.labels"]), PLAUSIBLE[kind])),
)


def _mutated(mutations: list[Any]) -> dict[str, Any]:
    """BASE with the mutations that still apply (one below a value an earlier one replaced does not)."""
    applied: list[Any] = []
    for mutation in mutations:
        try:
            spec(*applied, mutation)
        except (KeyError, IndexError, TypeError, AttributeError):
            continue
        applied.append(mutation)
    return spec(*applied)


@pytest.fixture(scope="module")
def ansible_inventory() -> Any:
    """Ansible's own inventory loader (what ansible-inventory runs), strict about unparsed sources."""
    from ansible import constants
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    constants.INVENTORY_UNPARSED_IS_FAILED = True
    constants.INVENTORY_ANY_UNPARSED_IS_FAILED = True
    return lambda directory: InventoryManager(loader=DataLoader(), sources=[str(directory)])


def _check_kubeadm(review: Path, data: dict[str, Any]) -> None:
    nodes = {n["name"]: n for n in data["spec"]["nodes"]}
    for path in (review / "kubeadm").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            if "clusterName" in doc:
                assert RFC1123_LABEL.fullmatch(doc["clusterName"]), doc["clusterName"]
            registration = doc.get("nodeRegistration")
            if registration is None:
                continue
            name = registration["name"]
            assert RFC1123_LABEL.fullmatch(name) and path.name == f"{name}.yaml", name
            args = {a["name"]: a["value"] for a in registration.get("kubeletExtraArgs", [])}
            pairs = [p.split("=", 1) for p in args.get("node-labels", "").split(",") if p]
            assert len(pairs) == len(nodes[name].get("labels") or {})  # nothing injected
            for key, value in pairs:
                assert labels.key_problem(key) is None and labels.valid_value(value)
                assert labels.kubelet_refuses(key) is None


@BOUNDED
@given(st.lists(MUTATION, min_size=1, max_size=3))
def test_mutated_specs_never_crash_and_valid_ones_render(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch, ansible_inventory: Any,
                                                         mutations: list[Any]) -> None:
    data = _mutated(mutations)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cluster.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        ran = invoke(capsys, "validate", "-f", str(path))
        assert ran.code in (ExitCode.OK, ExitCode.SPEC), ran
        assert "Traceback" not in ran.err and "unexpected" not in ran.err, ran.err
        event("refused" if ran.code == ExitCode.SPEC else "valid, rendered")
        if ran.code == ExitCode.SPEC:
            assert ran.err and all(re.match(r"(error|warning) \S+: ", line) for line in ran.err.splitlines()), ran.err
            return
        out = Path(tmp) / "inventory"
        rendered = invoke(capsys, "render", "-f", str(path), "-o", str(out))
        assert rendered.code == ExitCode.OK, rendered
        inventory = ansible_inventory(out)
        assert sorted(inventory.groups) == sorted(["all", "ungrouped", "kube_control_plane", "kube_node", "etcd",
                                                   "k8s_cluster"])
        assert sorted(h.name for h in inventory.get_hosts()) == sorted(n["name"] for n in data["spec"]["nodes"])
        _check_kubeadm(out / ".kubeadm", data)


# The loader alone, on arbitrary bytes and on a valid spec mangled at random places.
VALID_TEXT = yaml.safe_dump(BASE, sort_keys=False)
YAMLISH = st.text(alphabet="{}[],:-&*!|>'\"#?%@` \n\t\\abcxyz019.<=/~\x85\u2028", max_size=300)


@settings(max_examples=300, deadline=None, database=None, derandomize=bool(os.environ.get("CI")))
@given(st.one_of(st.binary(max_size=400), YAMLISH.map(str.encode)))
def test_fuzz_loader_on_arbitrary_input(data: bytes) -> None:
    try:
        text = decode(data)
    except InputError:
        return
    cluster, problems = parse(text)
    assert cluster is not None or any(p.severity == "error" for p in problems)


@settings(max_examples=200, deadline=None, database=None, derandomize=bool(os.environ.get("CI")))
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=len(VALID_TEXT)), st.integers(0, 3), YAMLISH),
                min_size=1, max_size=4))
def test_fuzz_loader_on_mangled_specs(edits: list[tuple[int, int, str]]) -> None:
    text = VALID_TEXT
    for at, cut, insert in edits:
        text = text[:at] + insert[:8] + text[at + cut:]
    try:
        text = decode(text.encode("utf-8", "surrogatepass"))
    except InputError:
        return
    _, problems = parse(text)
    for problem in problems:
        assert "\n" not in str(problem)
