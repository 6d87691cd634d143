"""The real upstream kube-flannel.yml, patched for specs, checked against the strict Kubernetes schemas."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from homelab_ctl.addons import catalog, flannel
from homelab_ctl.addons.flannel import FlannelValues
from homelab_ctl.spec import load
from tests.unit.addons.schemas import validate_strict

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "specs" / "valid"
MINORS = [catalog.fmt(m) for m in catalog.KUBERNETES_MINORS]


@pytest.fixture(scope="module")
def upstream_objects(upstream: Path) -> list[dict[str, Any]]:
    return flannel.parse((upstream / "flannel-v0.28.9" / "kube-flannel.yml").read_text())


def _get(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (obj,) = (o for o in objects if o["kind"] == kind)
    return obj


def _container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    spec = _get(objects, "DaemonSet")["spec"]["template"]["spec"]
    (c,) = (c for c in spec["containers"] if c["name"] == "kube-flannel")
    return c


def test_upstream_shape(upstream_objects: list[dict[str, Any]]) -> None:
    kinds = [o["kind"] for o in upstream_objects]
    assert kinds == ["Namespace", "ClusterRole", "ClusterRoleBinding", "ServiceAccount", "ConfigMap", "DaemonSet"]


@pytest.mark.parametrize("backend", ["vxlan", "host-gw", "wireguard"])
@pytest.mark.parametrize(("iface", "regex"), [(None, None), ("eno1", None), (None, "^en")])
def test_patch(upstream_objects: list[dict[str, Any]], backend: str, iface: str | None, regex: str | None) -> None:
    before = copy.deepcopy(upstream_objects)
    patched = flannel.patch(upstream_objects, FlannelValues("10.42.0.0/16", backend, iface, regex))
    assert upstream_objects == before  # the input is not modified

    conf = json.loads(_get(patched, "ConfigMap")["data"]["net-conf.json"])
    assert conf == {"Network": "10.42.0.0/16", "EnableNFTables": False, "Backend": {"Type": backend}}
    assert _get(patched, "ConfigMap")["data"]["cni-conf.json"] == _get(before, "ConfigMap")["data"]["cni-conf.json"]
    args = _container(patched)["args"]
    expected = ["--ip-masq", "--kube-subnet-mgr", "--healthz-port=8081"]
    expected += [f"--iface={iface}"] if iface else []
    expected += [f"--iface-regex={regex}"] if regex else []
    expected += [] if iface or regex else ["--iface=$(NODE_IP)"]  # the node's address by default
    assert args == expected
    env = _container(patched)["env"]
    node_ip = [e for e in env if e["name"] == "NODE_IP"]
    from_node = {"name": "NODE_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}}
    assert node_ip == ([] if iface or regex else [from_node])
    # only those places differ from upstream
    for a, b in zip(patched, before, strict=True):
        if a["kind"] not in ("ConfigMap", "DaemonSet"):
            assert a == b
    _container(before)["args"] = args
    _container(before)["env"] = env
    _get(before, "ConfigMap")["data"]["net-conf.json"] = _get(patched, "ConfigMap")["data"]["net-conf.json"]
    assert patched == before


def test_default_interface_is_the_node_address(upstream_objects: list[dict[str, Any]]) -> None:
    """Without iface/ifaceRegex in the spec, flanneld must not pick the default-route interface: it
    gets the address the kubelet registered (status.hostIP = --node-ip), expanded by Kubernetes from
    the container's env ($(VAR) in args), and that env var is defined before nothing else uses it."""
    patched = flannel.patch(upstream_objects, FlannelValues("10.244.0.0/16", "vxlan"))
    container = _container(patched)
    iface_args = [a for a in container["args"] if a.startswith("--iface")]
    assert iface_args == ["--iface=$(NODE_IP)"]
    names = [e["name"] for e in container["env"]]
    assert names.count("NODE_IP") == 1
    upstream_env = _container(upstream_objects)["env"]
    assert container["env"][: len(upstream_env)] == upstream_env  # upstream's env untouched, NODE_IP added


def test_spec_interface_overrides_the_node_address(upstream_objects: list[dict[str, Any]]) -> None:
    for values in (FlannelValues("10.244.0.0/16", "vxlan", iface="eno2"),
                   FlannelValues("10.244.0.0/16", "vxlan", iface_regex="^enp")):
        container = _container(flannel.patch(upstream_objects, values))
        assert "--iface=$(NODE_IP)" not in container["args"]
        assert all(e["name"] != "NODE_IP" for e in container["env"])
    # patching twice (a manifest patched before) keeps a single NODE_IP
    once = flannel.patch(upstream_objects, FlannelValues("10.244.0.0/16", "vxlan"))
    twice = flannel.patch(once, FlannelValues("10.244.0.0/16", "vxlan"))
    assert twice == once


@pytest.mark.parametrize("minor", MINORS)
def test_every_patched_object_passes_the_strict_schema(upstream_objects: list[dict[str, Any]], minor: str) -> None:
    patched = flannel.patch(upstream_objects, FlannelValues("10.244.0.0/16", "host-gw", "eth0", None))
    for obj in patched:
        assert validate_strict(obj, minor) == minor  # kubernetes-validate has every supported minor


def test_an_unknown_field_is_caught_by_the_strict_schema(upstream_objects: list[dict[str, Any]]) -> None:
    """The check above is not vacuous: a typo in a patched object fails."""
    import kubernetes_validate

    patched = flannel.patch(upstream_objects, FlannelValues("10.244.0.0/16", "vxlan"))
    _container(patched)["argz"] = ["--iface=eth0"]
    with pytest.raises(kubernetes_validate.ValidationError, match="argz"):
        validate_strict(_get(patched, "DaemonSet"), "1.36")


def test_existing_iface_args_are_replaced() -> None:
    objects = [
        {"kind": "ConfigMap", "metadata": {"name": "kube-flannel-cfg"},
         "data": {"net-conf.json": '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "VNI": 4}}'}},
        {"kind": "DaemonSet", "metadata": {"name": "kube-flannel-ds"}, "spec": {"template": {"spec": {
            "containers": [{"name": "kube-flannel", "args": ["--iface", "old", "--ip-masq", "--iface-regex=x"]}]}}}},
    ]
    patched = flannel.patch(objects, FlannelValues("10.1.0.0/16", "host-gw", iface="new"))
    assert _container(patched)["args"] == ["--ip-masq", "--iface=new"]
    assert "env" not in _container(patched)  # nothing added when the spec names the interface
    # the vxlan-only VNI does not survive a backend change
    assert json.loads(_get(patched, "ConfigMap")["data"]["net-conf.json"])["Backend"] == {"Type": "host-gw"}


def test_ipv6_pod_subnet() -> None:
    text = flannel.net_conf('{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}',
                            FlannelValues("fd00:10:244::/56", "vxlan"))
    assert json.loads(text) == {"Backend": {"Type": "vxlan"}, "EnableIPv4": False, "EnableIPv6": True,
                                "IPv6Network": "fd00:10:244::/56"}


def test_missing_objects_are_reported() -> None:
    with pytest.raises(ValueError, match="no ConfigMap kube-flannel-cfg"):
        flannel.patch([], FlannelValues("10.1.0.0/16", "vxlan"))


def test_manifests_from_a_spec_via_the_offline_mirror(upstream: Path) -> None:
    loaded = load(FIXTURES / "3cp-2w-vip.yaml")  # host-gw, ifaceRegex ^en, default podSubnet
    objects = flannel.manifests(loaded.cluster, mirror=upstream)
    conf = json.loads(_get(objects, "ConfigMap")["data"]["net-conf.json"])
    assert conf["Network"] == loaded.cluster.spec.kubernetes.pod_subnet == "10.244.0.0/16"
    assert conf["Backend"] == {"Type": "host-gw"}
    assert _container(objects)["args"][-1] == "--iface-regex=^en"
    for obj in objects:
        validate_strict(obj, loaded.cluster.spec.kubernetes.version)


def test_schema_version_falls_back_to_the_newest_and_says_so() -> None:
    from kubernetes_validate import utils

    from tests.unit.addons.schemas import schema_version

    assert schema_version("1.36.3") == "1.36"
    with pytest.warns(UserWarning, match="no schemas for Kubernetes 1.99: validating against"):
        assert schema_version("1.99.0") == utils.major_minor(utils.latest_version())
