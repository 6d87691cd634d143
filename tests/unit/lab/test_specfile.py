"""The spec a lab writes is a valid homelab-ctl spec and renders to an inventory that reaches the
machines through 127.0.0.1 with the lab's key and known_hosts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml

from homelab_ctl.lab import specfile
from homelab_ctl.lab.model import Lab, plan
from homelab_ctl.render import inventory
from homelab_ctl.spec import load


def _started(lab: Lab) -> Lab:
    machines = tuple(replace(m, ssh_port=41000 + i, state="running") for i, m in enumerate(lab.machines))
    return replace(lab, machines=machines)


def test_ha_lab_spec_loads(tmp_path: Path) -> None:
    lab = _started(plan("home", 3, 2, "10.90.3.0/24", tmp_path))
    specfile.write(lab)
    loaded = load(lab.spec_path)
    assert loaded.warnings == []
    spec = loaded.cluster.spec
    assert loaded.cluster.name == "home"
    assert spec.network.node_cidr == "10.90.3.0/24"
    endpoint = spec.kubernetes.control_plane_endpoint
    assert endpoint is not None and endpoint.vip == "10.90.3.200"
    assert spec.ssh.user == "root"
    assert spec.ssh.private_key_file == str(tmp_path / "id_ed25519")
    assert spec.ssh.known_hosts_file == str(tmp_path / "known_hosts")
    assert [(n.name, n.address, n.roles, n.ssh.host if n.ssh else None, n.ssh.port if n.ssh else None)
            for n in spec.nodes] == [
        ("home-cp1", "10.90.3.11", ["control-plane"], "127.0.0.1", 41000),
        ("home-cp2", "10.90.3.12", ["control-plane"], "127.0.0.1", 41001),
        ("home-cp3", "10.90.3.13", ["control-plane"], "127.0.0.1", 41002),
        ("home-w1", "10.90.3.21", ["worker"], "127.0.0.1", 41003),
        ("home-w2", "10.90.3.22", ["worker"], "127.0.0.1", 41004),
    ]


def test_single_node_lab_has_no_endpoint(tmp_path: Path) -> None:
    lab = _started(plan("solo", 1, 0, "10.90.0.0/24", tmp_path))
    specfile.write(lab)
    loaded = load(lab.spec_path)
    assert loaded.cluster.spec.kubernetes.control_plane_endpoint is None
    kubernetes = yaml.safe_load(lab.spec_path.read_text())["spec"]["kubernetes"]
    assert "controlPlaneEndpoint" not in kubernetes
    # lab machines are containers on a host that may boot cgroup v1
    assert kubernetes == {"failCgroupV1": False, "containerNodes": True}
    assert {w.message for w in loaded.warnings} >= {"one control plane is not highly available (use 3 for HA)"}


def test_inventory_of_a_lab_spec(tmp_path: Path) -> None:
    lab = _started(plan("home", 1, 2, "10.90.0.0/24", tmp_path))
    specfile.write(lab)
    files = inventory.files(load(lab.spec_path))
    hosts = yaml.safe_load(files["hosts.yml"])["all"]["hosts"]
    assert hosts["home-w2"]["ansible_host"] == "127.0.0.1"
    assert hosts["home-w2"]["ansible_port"] == 41002
    assert hosts["home-w2"]["homelab_node_address"] == "10.90.0.22"
    connection = yaml.safe_load(files["group_vars/all/connection.yml"])
    assert connection["ansible_user"] == "root"
    assert connection["ansible_ssh_private_key_file"] == str(lab.key_path)
    assert f"UserKnownHostsFile={lab.known_hosts_path}" in connection["ansible_ssh_common_args"]


def test_spec_text_is_commented_and_stable(tmp_path: Path) -> None:
    lab = _started(plan("home", 3, 0, "10.90.0.0/24", tmp_path))
    text = specfile.text(lab)
    assert text.startswith("# Lab home: 3 podman machines")
    assert text == specfile.text(lab)


def test_lab_with_a_mirror_installs_from_it(tmp_path: Path) -> None:
    lab = _started(plan("home", 1, 1, "10.90.0.0/24", tmp_path))
    (tmp_path / "mirror").mkdir()
    specfile.write(lab, tmp_path / "mirror")
    spec = load(lab.spec_path).cluster.spec
    assert spec.artifacts.dir == str((tmp_path / "mirror").resolve())
    assert spec.container_runtime.source == "upstream"


def test_add_node_keeps_the_rest_of_the_spec(tmp_path: Path) -> None:
    lab = _started(plan("home", 1, 1, "10.90.0.0/24", tmp_path))
    specfile.write(lab)
    edited = lab.spec_path.read_text().replace("nodeCidr: 10.90.0.0/24", "nodeCidr: 10.90.0.0/24\n    cni: flannel")
    lab.spec_path.write_text(edited)
    new = _started(plan("home", 1, 2, "10.90.0.0/24", tmp_path)).machines[-1]
    specfile.add_node(lab, new)
    spec = load(lab.spec_path).cluster.spec
    assert [n.name for n in spec.nodes] == ["home-cp1", "home-w1", "home-w2"]
    assert "cni: flannel" in lab.spec_path.read_text()
    specfile.add_node(lab, new)  # again: no duplicate
    assert [n.name for n in load(lab.spec_path).cluster.spec.nodes] == ["home-cp1", "home-w1", "home-w2"]
