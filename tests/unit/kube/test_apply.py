"""Server-side apply against the Kubernetes API TEST DOUBLE (strict: real schemas, SSA contract)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from homelab_ctl.addons import flannel
from homelab_ctl.addons.flannel import FlannelValues
from homelab_ctl.errors import ExitCode, KubernetesError
from homelab_ctl.kube import Kube, apply, connect
from homelab_ctl.kube.apply import ordered
from tests.doubles.apiserver import APPLY, KubeApiDouble, serve, write_kubeconfig

SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp")


@pytest.fixture()
def flannel_objects(upstream: Path) -> list[dict[str, Any]]:
    text = (upstream / "flannel-v0.28.9" / "kube-flannel.yml").read_text()
    return flannel.patch(flannel.parse(text), FlannelValues("10.42.0.0/16", "host-gw", "eno1"))


def _without_server_fields(obj: dict[str, Any]) -> dict[str, Any]:
    obj = json.loads(json.dumps(obj))
    for key in SERVER_FIELDS:
        obj["metadata"].pop(key, None)
    return obj


def test_patched_flannel_applies_and_a_rerun_changes_nothing(
    api: KubeApiDouble, kube: Kube, flannel_objects: list[dict[str, Any]]
) -> None:
    seen: list[str] = []
    results = apply(kube, flannel_objects, progress=lambda a: seen.append(str(a)))
    assert [str(r) for r in results] == seen == [
        "Namespace kube-flannel created",
        "ServiceAccount kube-flannel/flannel created",
        "ConfigMap kube-flannel/kube-flannel-cfg created",
        "ClusterRole flannel created",
        "ClusterRoleBinding flannel created",
        "DaemonSet kube-flannel/kube-flannel-ds created",
    ]
    # what the API server stores is exactly what we sent
    stored = {(o["kind"], o["metadata"]["name"]): _without_server_fields(o) for o in api.objects()}
    for obj in flannel_objects:
        assert stored[(obj["kind"], obj["metadata"]["name"])] == obj
    # every write was a server-side apply by homelab-ctl, forcing conflicts
    patches = api.patches()
    assert len(patches) == 6
    for call in patches:
        assert call.content_type == APPLY
        assert call.query == {"fieldManager": ["homelab-ctl"], "force": ["true"]}

    again = apply(kube, flannel_objects)
    assert {r.action for r in again} == {"unchanged"}

    changed = flannel.patch(flannel_objects, FlannelValues("10.42.0.0/16", "vxlan", "eno1"))
    third = apply(kube, changed)
    assert [(r.kind, r.action) for r in third if r.action != "unchanged"] == [("ConfigMap", "configured")]
    conf = api.get("ConfigMap", "kube-flannel-cfg", "kube-flannel")["data"]["net-conf.json"]
    assert json.loads(conf)["Backend"] == {"Type": "vxlan"}


def test_namespace_goes_first_whatever_the_file_order(flannel_objects: list[dict[str, Any]]) -> None:
    shuffled = list(reversed(flannel_objects))
    assert [o["kind"] for o in ordered(shuffled)][:1] == ["Namespace"]
    assert [o["kind"] for o in ordered(shuffled)][-1] == "DaemonSet"


def test_unknown_field_is_refused_with_one_clear_line(kube: Kube, flannel_objects: list[dict[str, Any]]) -> None:
    ds = next(o for o in flannel_objects if o["kind"] == "DaemonSet")
    ds["spec"]["template"]["spec"]["containers"][0]["argz"] = ["--iface=eth0"]
    with pytest.raises(KubernetesError) as caught:
        apply(kube, flannel_objects)
    message = caught.value.message
    assert caught.value.exit_code == ExitCode.KUBERNETES
    assert message.startswith('apply DaemonSet kube-flannel/kube-flannel-ds: 422 Invalid: DaemonSet.apps '
                              '"kube-flannel-ds" is invalid: ')
    assert "argz" in message and "\n" not in message


def test_missing_namespace(kube: Kube) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "nowhere"}}
    with pytest.raises(KubernetesError, match=r'^apply ConfigMap nowhere/x: 404 NotFound: namespaces "nowhere" not'):
        apply(kube, [cm])


def test_namespaced_object_without_namespace_goes_to_default(api: KubeApiDouble, kube: Kube) -> None:
    apply(kube, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}])
    (result,) = apply(kube, [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}])
    assert (result.namespace, result.action) == ("default", "created")
    assert api.get("ConfigMap", "x", "default") is not None


def test_unknown_kind(kube: Kube) -> None:
    obj = {"apiVersion": "acid.zalan.do/v1", "kind": "postgresql", "metadata": {"name": "main"}}
    with pytest.raises(KubernetesError, match=r"has no kind postgresql in acid\.zalan\.do/v1") as caught:
        apply(kube, [obj])
    assert "CustomResourceDefinition" in (caught.value.hint or "")


def test_not_an_object(kube: Kube) -> None:
    with pytest.raises(KubernetesError, match="not a Kubernetes object"):
        apply(kube, [{"kind": "ConfigMap"}])


def test_unreachable_api_server(tmp_path: Path) -> None:
    with serve() as gone:
        url = gone.url
    with pytest.raises(KubernetesError, match=f"cannot reach the Kubernetes API at {url}: ") as caught:
        connect(write_kubeconfig(tmp_path / "kc", url))
    assert "\n" not in caught.value.message


def test_bad_kubeconfig(tmp_path: Path) -> None:
    with pytest.raises(KubernetesError, match="kubeconfig not found"):
        connect(tmp_path / "missing")
    (tmp_path / "kc").write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n")
    with pytest.raises(KubernetesError, match="not a usable kubeconfig"):
        connect(tmp_path / "kc")


# -- the double itself is strict about the contract (so passing tests above mean something)


def _raw(api: KubeApiDouble, method: str, path: str, body: dict[str, Any] | None = None,
         content_type: str = APPLY) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(api.url + path, data=data, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}


@pytest.mark.parametrize(("method", "path", "content_type", "code", "reason"), [
    ("PATCH", "/api/v1/namespaces/demo?fieldManager=homelab-ctl", "application/merge-patch+json", 415,
     "UnsupportedMediaType"),
    ("PATCH", "/api/v1/namespaces/demo", APPLY, 422, "Invalid"),  # no fieldManager
    ("PATCH", "/api/v1/namespaces/demo?fieldManager=kubectl", APPLY, 422, "Invalid"),
    ("PATCH", "/api/v1/namespaces/demo?fieldManager=homelab-ctl&force=yes", APPLY, 400, "BadRequest"),
    ("PATCH", "/api/v1/namespaces/other?fieldManager=homelab-ctl", APPLY, 400, "BadRequest"),  # name mismatch
    ("PATCH", "/api/v1/namespaces/demo?fieldManager=homelab-ctl&dryrun=All", APPLY, 400, "BadRequest"),
    ("POST", "/api/v1/namespaces", "application/json", 405, "MethodNotAllowed"),
    ("PATCH", "/api/v1/widgets/demo?fieldManager=homelab-ctl", APPLY, 404, "NotFound"),
    ("PATCH", "/apis/example.com/v1/namespaces/demo?fieldManager=homelab-ctl", APPLY, 404, "NotFound"),
    ("GET", "/api/v1/namespaces/demo", "application/json", 404, "NotFound"),
])
def test_double_rejects_like_the_api_server(api: KubeApiDouble, method: str, path: str, content_type: str,
                                            code: int, reason: str) -> None:
    status, body = _raw(api, method, path, NS, content_type)
    assert (status, body["kind"], body["reason"]) == (code, "Status", reason), body["message"]
    assert api.objects() == []


def test_double_accepts_a_proper_apply(api: KubeApiDouble) -> None:
    status, body = _raw(api, "PATCH", "/api/v1/namespaces/demo?fieldManager=homelab-ctl&force=true", NS)
    assert status == 201 and body["metadata"]["name"] == "demo"
    status, again = _raw(api, "PATCH", "/api/v1/namespaces/demo?fieldManager=homelab-ctl&force=true", NS)
    assert status == 200 and again["metadata"]["resourceVersion"] == body["metadata"]["resourceVersion"]
