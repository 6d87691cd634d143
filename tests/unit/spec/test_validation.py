"""Focused validation rules: line numbers, warnings, secrets never echoed, defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from homelab_ctl.errors import SpecError
from homelab_ctl.spec import load, parse

SPECS = Path(__file__).resolve().parents[2] / "fixtures" / "specs"


def _spec(nodes: str, extra: str = "") -> str:
    return (
        "apiVersion: homelab-ctl/v1alpha1\nkind: Cluster\nmetadata: {name: t}\nspec:\n"
        f"{extra}  nodes:\n{nodes}"
    )


def test_problem_carries_the_yaml_line() -> None:
    text = _spec("    - name: a\n      address: 10.0.0.300\n      roles: [control-plane, worker]\n")
    _, problems = parse(text)
    assert [str(p) for p in problems] == ["spec.nodes[0].address: '10.0.0.300' is not an IP address (line 7)"]


def test_single_control_plane_is_a_warning_not_an_error() -> None:
    cluster, problems = parse(_spec("    - {name: a, address: 10.0.0.1, roles: [control-plane]}\n"
                                    "    - {name: b, address: 10.0.0.2, roles: [worker]}\n"))
    assert cluster is not None
    assert [(p.severity, p.path) for p in problems] == [("warning", "spec.nodes")]
    assert "not highly available" in problems[0].message


@pytest.mark.parametrize("count", [2, 4])
def test_even_control_planes_explain_quorum(count: int) -> None:
    nodes = "".join(f"    - {{name: c{i}, address: 10.0.0.{i + 1}, roles: [control-plane]}}\n" for i in range(count))
    _, problems = parse(_spec(nodes, "  kubernetes: {controlPlaneEndpoint: {vip: 10.0.0.100}}\n"))
    (problem,) = [p for p in problems if p.severity == "error"]
    assert "majority" in problem.message and "odd number" in problem.message


def test_five_mistakes_give_five_problems() -> None:
    _, problems = parse((SPECS / "five-mistakes.yaml").read_text())
    assert [p.path for p in problems] == [
        "spec.kubernetes.version",
        "spec.ssh.privatKeyFile",
        "spec.nodes[1].address",
        "spec.nodes[2].name",
        "spec.network.flannel.backend",
    ]


def test_inline_secret_is_never_echoed(tmp_path: Path) -> None:
    spec = tmp_path / "c.yaml"
    spec.write_text((SPECS / "invalid" / "inline-secret.yaml").read_text())
    with pytest.raises(SpecError) as info:
        load(spec)
    assert "hunter2" not in "\n".join(info.value.problems)


def test_missing_file_is_one_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load(tmp_path / "nope.yaml")
    assert info.value.problems == [f"{tmp_path / 'nope.yaml'}: cannot read: No such file or directory"]


def test_defaults_are_filled_in() -> None:
    cluster, _ = parse((SPECS / "valid" / "one-node.yaml").read_text())
    assert cluster is not None
    spec = cluster.spec
    assert (spec.kubernetes.pod_subnet, spec.kubernetes.service_subnet) == ("10.244.0.0/16", "10.96.0.0/12")
    assert spec.network.flannel.backend == "vxlan"
    assert spec.container_runtime.source == "distro"
    assert spec.storage.local_path is not None and spec.storage.local_path.default


def test_mac_and_uuid_pins_are_normalised() -> None:
    cluster, _ = parse((SPECS / "valid" / "3cp-3w-nas-addons.yaml").read_text())
    assert cluster is not None
    identity = cluster.spec.nodes[0].identity
    assert identity is not None
    assert identity.macs == ["52:54:00:aa:00:11"]
    assert identity.product_uuid == "4c4c4544-0042-3510-8052-b4c04f4e3732"
