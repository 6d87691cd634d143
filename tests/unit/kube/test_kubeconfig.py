"""Merging the admin kubeconfig from the state dir into the user's kubeconfig."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
import yaml

from homelab_ctl.errors import ExitCode, UsageError
from homelab_ctl.kube.kubeconfig import admin_conf_path, merge_admin_kubeconfig, server_url
from homelab_ctl.spec import Loaded, load, parse
from tests.unit.kube.kubeconfigs import admin_conf, other_kubeconfig, write

SPECS = Path(__file__).resolve().parents[2] / "fixtures" / "specs" / "valid"


@pytest.fixture()
def loaded(tmp_path: Path) -> Loaded:
    spec = tmp_path / "cluster" / "cluster.yaml"
    spec.parent.mkdir()
    shutil.copy(SPECS / "3cp-2w-vip.yaml", spec)  # cluster "home", VIP 192.168.10.50:6443
    return load(spec)


def test_merge_keeps_other_clusters_and_names_everything_after_the_cluster(loaded: Loaded, tmp_path: Path) -> None:
    admin = admin_conf(server="https://192.168.10.11:6443")
    write(admin_conf_path(loaded), admin)
    target = write(tmp_path / "home" / ".kube" / "config", other_kubeconfig())

    merged = merge_admin_kubeconfig(loaded, target)
    assert (merged.path, merged.context, merged.server, merged.replaced, merged.current) == (
        target, "home", "https://192.168.10.50:6443", False, True)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    doc = yaml.safe_load(target.read_text())
    work = other_kubeconfig()
    for section in ("clusters", "users", "contexts"):
        assert [e["name"] for e in doc[section]] == [work[section][0]["name"], "home"]
        assert doc[section][0]["name"] == work[section][0]["name"]
    assert doc["users"][0] == work["users"][0] and doc["contexts"][0] == work["contexts"][0]
    assert doc["preferences"] == {"colors": True} and doc["current-context"] == "home"
    assert doc["contexts"][1] == {"name": "home", "context": {"cluster": "home", "user": "home"}}
    assert doc["clusters"][1]["cluster"] == {
        "certificate-authority-data": admin["clusters"][0]["cluster"]["certificate-authority-data"],
        "server": "https://192.168.10.50:6443"}  # the VIP, not the node admin.conf came from
    assert doc["users"][1]["user"] == admin["users"][0]["user"]


def test_merging_again_replaces_in_place(loaded: Loaded, tmp_path: Path) -> None:
    write(admin_conf_path(loaded), admin_conf())
    target = write(tmp_path / "config", other_kubeconfig())
    merge_admin_kubeconfig(loaded, target)
    rotated = admin_conf()  # new credentials after a rebuild
    write(admin_conf_path(loaded), rotated)
    merged = merge_admin_kubeconfig(loaded, target, set_current=False)
    assert merged.replaced
    doc = yaml.safe_load(target.read_text())
    assert [c["name"] for c in doc["contexts"]] == ["work", "home"]
    assert doc["users"][1]["user"] == rotated["users"][0]["user"]


def test_no_switch_keeps_the_current_context(loaded: Loaded, tmp_path: Path) -> None:
    write(admin_conf_path(loaded), admin_conf())
    target = write(tmp_path / "config", other_kubeconfig())
    merged = merge_admin_kubeconfig(loaded, target, set_current=False)
    assert not merged.current and yaml.safe_load(target.read_text())["current-context"] == "work"


def test_new_kubeconfig_in_a_new_directory(loaded: Loaded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(admin_conf_path(loaded), admin_conf())
    monkeypatch.setenv("HOME", str(tmp_path / "fresh-home"))
    merged = merge_admin_kubeconfig(loaded)  # default: ~/.kube/config
    assert merged.path == tmp_path / "fresh-home" / ".kube" / "config"
    assert stat.S_IMODE(merged.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(merged.path.parent.stat().st_mode) == 0o700
    assert yaml.safe_load(merged.path.read_text())["current-context"] == "home"


def test_the_result_is_a_kubeconfig_the_kubernetes_client_loads(loaded: Loaded, tmp_path: Path) -> None:
    from kubernetes import client, config

    write(admin_conf_path(loaded), admin_conf())
    target = write(tmp_path / "config", other_kubeconfig())
    merge_admin_kubeconfig(loaded, target)
    for context, host in (("home", "https://192.168.10.50:6443"), ("work", "https://k8s.work.example:443")):
        configuration = client.Configuration()
        config.load_kube_config(str(target), context=context, client_configuration=configuration,
                                persist_config=False)
        assert configuration.host == host
    configuration = client.Configuration()
    config.load_kube_config(str(target), client_configuration=configuration, persist_config=False)
    assert configuration.cert_file and configuration.key_file  # the admin client certificate is used


def test_symlinked_kubeconfig_is_updated_through_the_link(loaded: Loaded, tmp_path: Path) -> None:
    write(admin_conf_path(loaded), admin_conf())
    real = write(tmp_path / "dotfiles" / "kubeconfig", other_kubeconfig())
    link = tmp_path / "config"
    link.symlink_to(real)
    merge_admin_kubeconfig(loaded, link)
    assert link.is_symlink() and "home" in [c["name"] for c in yaml.safe_load(real.read_text())["contexts"]]


def test_missing_admin_conf_says_run_up_first(loaded: Loaded, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        merge_admin_kubeconfig(loaded, tmp_path / "config")
    assert caught.value.exit_code == ExitCode.SPEC
    assert caught.value.message == f"no admin kubeconfig for cluster home: {admin_conf_path(loaded)} does not exist"
    assert caught.value.hint == "run homelab-ctl up -f cluster.yaml first"
    assert not (tmp_path / "config").exists()
    assert not (loaded.base_dir / ".homelab-ctl").exists()  # asking did not create a state dir


def test_a_broken_kubeconfig_is_not_overwritten(loaded: Loaded, tmp_path: Path) -> None:
    write(admin_conf_path(loaded), admin_conf())
    target = tmp_path / "config"
    target.write_text("clusters: {not: a list}\n")
    with pytest.raises(UsageError, match="not a kubeconfig"):
        merge_admin_kubeconfig(loaded, target)
    assert target.read_text() == "clusters: {not: a list}\n"
    assert sorted(os.listdir(tmp_path)) == ["cluster", "config"]  # no temporary file left


def test_admin_conf_without_the_referenced_entries(loaded: Loaded, tmp_path: Path) -> None:
    broken = admin_conf()
    broken["users"] = []
    write(admin_conf_path(loaded), broken)
    with pytest.raises(UsageError, match="no user named 'kubernetes-admin'"):
        merge_admin_kubeconfig(loaded, tmp_path / "config")


SPEC = """apiVersion: homelab-ctl/v1alpha1
kind: Cluster
metadata: {{name: t}}
spec:
  kubernetes: {{{endpoint}}}
  nodes: [{{name: a, address: {address}, roles: [control-plane]}}]
"""


@pytest.mark.parametrize(("endpoint", "address", "url"), [
    ("controlPlaneEndpoint: {vip: 192.168.1.50, port: 8443}", "192.168.1.10", "https://192.168.1.50:8443"),
    ("controlPlaneEndpoint: {host: k8s.home.lan}", "192.168.1.10", "https://k8s.home.lan:6443"),
    ("", "192.168.1.10", "https://192.168.1.10:6443"),
    ("podSubnet: fd00:10:244::/56, serviceSubnet: fd00:10:96::/112", "fd00::10", "https://[fd00::10]:6443"),
])
def test_server_url(endpoint: str, address: str, url: str) -> None:
    cluster, problems = parse(SPEC.format(endpoint=endpoint, address=address))
    assert cluster is not None, problems
    assert server_url(cluster) == url
