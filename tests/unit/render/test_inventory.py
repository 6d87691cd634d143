"""Rendered inventories: pinned by golden files, deterministic, and accepted by ansible-inventory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from homelab_ctl.render import inventory
from homelab_ctl.spec import load

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
VALID = sorted((FIXTURES / "specs" / "valid").glob("*.yaml"))
SPEC_DIR = "$SPEC_DIR"  # golden files do not depend on where the checkout is


def _rendered(spec: Path) -> dict[str, str]:
    files = inventory.files(load(spec))
    return {rel: text.replace(str(spec.parent.resolve()), SPEC_DIR) for rel, text in files.items()}


@pytest.mark.parametrize("spec", VALID, ids=lambda p: p.stem)
def test_matches_golden_files(spec: Path) -> None:
    golden = FIXTURES / "golden" / spec.stem
    files = _rendered(spec)
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        inventory.write(files, golden)
    on_disk = {str(p.relative_to(golden)): p.read_text() for p in golden.rglob("*") if p.is_file()}
    assert on_disk == files


@pytest.mark.parametrize("spec", VALID, ids=lambda p: p.stem)
def test_rendering_is_byte_identical(spec: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    inventory.write(inventory.files(load(spec)), first)
    inventory.write(inventory.files(load(spec)), second)
    read = lambda d: {p.relative_to(d): p.read_bytes() for p in d.rglob("*") if p.is_file()}  # noqa: E731
    assert read(first) == read(second)
    assert inventory.write(inventory.files(load(spec)), first) == []  # nothing changes on a re-render


@pytest.mark.parametrize("spec", VALID, ids=lambda p: p.stem)
def test_ansible_inventory_accepts_it(spec: Path, tmp_path: Path) -> None:
    loaded = load(spec)
    inventory.write(inventory.files(loaded), tmp_path)
    tool = Path(sys.executable).with_name("ansible-inventory")
    result = subprocess.run([str(tool), "-i", str(tmp_path), "--list"], capture_output=True, text=True,
                            check=False, env={**os.environ, "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"})
    assert result.returncode == 0, result.stderr
    assert "[WARNING]" not in result.stderr, result.stderr
    data = json.loads(result.stdout)
    spec_ = loaded.cluster.spec
    assert sorted(data["kube_control_plane"]["hosts"]) == sorted(n.name for n in spec_.control_planes)
    assert sorted(data["etcd"]["hosts"]) == sorted(n.name for n in spec_.control_planes)
    assert sorted(data["k8s_cluster"]["children"]) == ["kube_control_plane", "kube_node"]
    hostvars = data["_meta"]["hostvars"]
    assert sorted(hostvars) == sorted(n.name for n in spec_.nodes)
    for node in spec_.nodes:
        assert hostvars[node.name]["homelab_node_address"] == node.address
        assert hostvars[node.name]["homelab_kubernetes_version"] == spec_.kubernetes.version


def test_node_ssh_overrides_and_taints() -> None:
    hosts = yaml.safe_load(inventory.files(load(FIXTURES / "specs" / "valid" / "3cp-2w-vip.yaml"))["hosts.yml"])
    all_hosts = hosts["all"]["hosts"]
    assert all_hosts["w2"]["ansible_host"] == "nas.lan"
    assert (all_hosts["w2"]["ansible_port"], all_hosts["w2"]["ansible_user"]) == (2222, "root")
    assert all_hosts["w2"]["homelab_node_address"] == "192.168.10.22"
    assert all_hosts["cp1"]["homelab_node_taints"] == [inventory.CONTROL_PLANE_TAINT]
    assert all_hosts["w1"]["homelab_node_taints"] == []


def test_single_node_runs_workloads() -> None:
    hosts = yaml.safe_load(inventory.files(load(FIXTURES / "specs" / "valid" / "one-node.yaml"))["hosts.yml"])
    assert hosts["all"]["hosts"]["box"]["homelab_node_taints"] == []
    assert list(hosts["all"]["children"]["kube_node"]["hosts"]) == ["box"]


def test_sample_inventory_in_repo_is_current() -> None:
    """inventory/ at the repo root is what `homelab-ctl render` writes for the example spec."""
    repo = FIXTURES.parents[1]
    files = inventory.files(load(repo / "homelab_ctl" / "spec" / "example.yaml"))
    on_disk = {str(p.relative_to(repo / "inventory")): p.read_text()
               for p in (repo / "inventory").rglob("*") if p.is_file()}
    assert on_disk == files
