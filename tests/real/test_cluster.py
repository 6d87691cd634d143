"""A real 3 control plane + 1 worker cluster, brought up by `homelab-ctl up` from the offline mirror.

Tests run in file order on one cluster (module fixture): first up, what it built, a no-op second
up, losing the VIP holder, a worker added to the spec.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from homelab_ctl.lab import machines
from homelab_ctl.lab.model import Lab
from homelab_ctl.mirror import layout

from .conftest import EXE, Labs, Run, kubectl, mirror, on, up

ETCDCTL = ["etcdctl", "--cacert=/etc/kubernetes/pki/etcd/ca.crt",
           "--cert=/etc/kubernetes/pki/etcd/server.crt", "--key=/etc/kubernetes/pki/etcd/server.key"]
NETTEST = "localhost/homelab-ctl-nettest:1"


@dataclass
class Cluster:
    lab: Lab
    first: Run
    kubeconfig: Path

    def api(self) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(self.kubeconfig)))


@pytest.fixture(scope="module")
def cluster(labs: Labs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    reuse = os.environ.get("HOMELAB_REAL_LAB")  # iterate on an existing lab (then "first" is not the first)
    lab = machines.get(reuse) if reuse else labs.make(3, 1, tmp_path_factory.mktemp("real"))
    first = Run(0, "nothing to do", 0.0) if reuse and os.environ.get("HOMELAB_REAL_SKIP_UP") else up(lab.spec_path)
    print(f"\nfirst up (3 control planes + 1 worker, real kubeadm): {first.seconds:.0f} s")
    kubeconfig = lab.spec_path.parent / ".homelab-ctl" / lab.name / "admin.conf"
    yield Cluster(lab, first, kubeconfig)


def _etcd(cluster: Cluster, *args: str, endpoints: str = "https://127.0.0.1:2379") -> str:
    """etcdctl in the etcd pod of the first control plane; values that are not text come back escaped."""
    cp = cluster.lab.control_planes[0].name
    cmd = [os.environ.get("KUBECTL", "kubectl"), "--kubeconfig", str(cluster.kubeconfig), "-n", "kube-system",
           "exec", f"etcd-{cp}", "--", *ETCDCTL, f"--endpoints={endpoints}", *args]
    proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout.decode(errors="backslashreplace")


def _healthy(cluster: Cluster) -> list[str]:
    endpoints = ",".join(f"https://{m.ip}:2379" for m in cluster.lab.control_planes)
    health = _etcd(cluster, "endpoint", "health", endpoints=endpoints)
    return [m.name for m in cluster.lab.control_planes if f"https://{m.ip}:2379 is healthy" in health]


def _wait(what: str, check: Any, timeout: float = 300, interval: float = 3) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # the API may be away while things move
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}: last {last!r}")


def _ready(api: k8s.CoreV1Api) -> dict[str, bool]:
    return {n.metadata.name: any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
            for n in api.list_node().items}


def test_first_up_succeeds(cluster: Cluster) -> None:
    assert cluster.first.returncode == 0, cluster.first.output[-3000:]
    assert " is up" in cluster.first.output or "nothing to do" in cluster.first.output


def test_every_node_is_ready_and_reports_the_built_version(cluster: Cluster) -> None:
    nodes = cluster.api().list_node().items
    assert sorted(n.metadata.name for n in nodes) == sorted(m.name for m in cluster.lab.machines)
    assert all(_ready(cluster.api()).values())
    assert {n.status.node_info.kubelet_version for n in nodes} == {"v1.36.3"}
    assert {n.status.node_info.container_runtime_version for n in nodes} == {"containerd://2.2.1"}


def test_three_healthy_etcd_members(cluster: Cluster) -> None:
    members = yaml.safe_load(_etcd(cluster, "member", "list", "-w", "json"))["members"]
    assert sorted(m["name"] for m in members) == sorted(m.name for m in cluster.lab.control_planes)
    assert not any(m.get("isLearner") for m in members)
    assert _healthy(cluster) == [m.name for m in cluster.lab.control_planes]


def test_api_answers_through_the_vip(cluster: Cluster) -> None:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    assert config["clusters"][0]["cluster"]["server"] == f"https://{cluster.lab.vip}:6443"
    version = k8s.VersionApi(k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig))).get_code()
    assert version.git_version == "v1.36.3"


def test_kubectl_works_with_the_merged_kubeconfig(cluster: Cluster, tmp_path: Path) -> None:
    target = tmp_path / "config"
    proc = subprocess.run([*EXE, "kubeconfig", "-f", str(cluster.lab.spec_path), "--kubeconfig", str(target)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    nodes = kubectl(target, "get", "nodes", "-o", "name")
    assert nodes.returncode == 0, nodes.stderr
    assert len(nodes.stdout.split()) == len(cluster.lab.machines)


def test_no_image_was_pulled_from_a_registry(cluster: Cluster) -> None:
    api = cluster.api()
    # "Pulling" is the kubelet starting a pull; a refused or failed pull says so in its message
    pulled = [e.message for e in api.list_event_for_all_namespaces().items
              if e.reason == "Pulling" or ("pull" in (e.message or "").lower() and e.reason != "Pulled")]
    assert pulled == []
    offered = {e.ref for e in layout.read_images(mirror() / layout.IMAGES_DIR)}
    used = {c.image for p in api.list_pod_for_all_namespaces().items
            for c in [*(p.spec.init_containers or []), *p.spec.containers]}
    assert used <= offered, used - offered


def _pod(name: str, node: str, command: list[str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"nodeName": node, "tolerations": [{"operator": "Exists"}],
                     "volumes": [{"name": "www", "emptyDir": {}}],
                     "containers": [{"name": "c", "image": NETTEST, "imagePullPolicy": "Never", "command": command,
                                     "volumeMounts": [{"name": "www", "mountPath": "/www"}]}]}}


def test_pod_on_the_worker_reaches_a_pod_on_a_control_plane_and_resolves_names(cluster: Cluster) -> None:
    api = cluster.api()
    server_node, client_node = cluster.lab.control_planes[0].name, cluster.lab.workers[0].name
    for name in ("web", "probe"):
        kubectl(cluster.kubeconfig, "delete", "pod", name, "--ignore-not-found", "--wait=true")
    api.create_namespaced_pod("default", _pod("web", server_node, [
        "sh", "-c", "echo hello-from-$(hostname) > /www/index.html && httpd -f -p 8080 -h /www"]))
    api.create_namespaced_pod("default", _pod("probe", client_node, ["sleep", "3600"]))
    running = lambda n: api.read_namespaced_pod(n, "default").status.phase == "Running"  # noqa: E731
    _wait("the test pods", lambda: running("web") and running("probe"))
    web_ip = api.read_namespaced_pod("web", "default").status.pod_ip
    request = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {web_ip} 8080"
    got = kubectl(cluster.kubeconfig, "exec", "probe", "--", "sh", "-c", request)
    assert got.returncode == 0 and got.stdout.rstrip().endswith("hello-from-web"), got.stdout + got.stderr
    dns = kubectl(cluster.kubeconfig, "exec", "probe", "--", "nslookup", "kubernetes.default.svc.cluster.local")
    assert dns.returncode == 0 and "10.96.0.1" in dns.stdout, dns.stdout + dns.stderr


def test_secrets_are_encrypted_in_etcd_with_one_key_everywhere(cluster: Cluster) -> None:
    api = cluster.api()
    kubectl(cluster.kubeconfig, "delete", "secret", "real-tier", "--ignore-not-found")
    api.create_namespaced_secret("default", {"metadata": {"name": "real-tier"},
                                             "data": {"v": base64.b64encode(b"plain-value").decode()}})
    raw = _etcd(cluster, "get", "/registry/secrets/default/real-tier", "--print-value-only")
    assert raw.startswith("k8s:enc:") and "plain-value" not in raw
    sums = set()
    for cp in cluster.lab.control_planes:
        text = on(cp.name, "cat", "/etc/kubernetes/encryption/config.yaml").stdout
        assert text, cp.name
        sums.add(hashlib.sha256(text.encode()).hexdigest())
    assert len(sums) == 1


def test_second_up_changes_nothing(cluster: Cluster) -> None:
    again = up(cluster.lab.spec_path)
    print(f"\nno-op up: {again.seconds:.0f} s")
    assert again.returncode == 0, again.output[-3000:]
    # "nothing to do" is printed only when the plan had no init/join and no task changed anything;
    # nothing drifted since the first up, so no playbook runs at all
    assert "nothing to do" in again.output
    for stage in ("prepare", "control-plane", "workers"):
        assert any(line.split()[:1] == [stage] and line.rstrip().endswith("skipped: nothing drifted")
                   for line in again.output.splitlines()), stage


def _vip_holder(cluster: Cluster) -> str:
    for cp in cluster.lab.control_planes:
        if cluster.lab.vip and f"{cluster.lab.vip}/" in on(cp.name, "ip", "-4", "-o", "addr").stdout:
            return cp.name
    return ""


def _api_answers(cluster: Cluster) -> bool:
    import ssl

    context = ssl._create_unverified_context()  # only liveness: /livez is public
    with urllib.request.urlopen(f"https://{cluster.lab.vip}:6443/livez", context=context, timeout=5) as resp:
        return bool(resp.status == 200)


def test_vip_moves_when_its_holder_stops_and_it_rejoins(cluster: Cluster) -> None:
    holder = _wait("a VIP holder", lambda: _vip_holder(cluster))
    machines.stop(cluster.lab, holder, timeout=0)
    try:
        new = _wait("the VIP to move", lambda: (h := _vip_holder(cluster)) and h != holder and h, timeout=120)
        assert new != holder
        _wait("the API through the VIP", lambda: _api_answers(cluster), timeout=120)
        assert cluster.api().list_node().items  # reads work with 2 of 3 etcd members
    finally:
        machines.start(cluster.lab, holder)
    _wait(f"{holder} Ready again", lambda: _ready(cluster.api()).get(holder), timeout=600)
    _wait("3 healthy etcd members", lambda: len(_healthy(cluster)) == 3, timeout=300)


def test_a_worker_added_to_the_spec_joins(cluster: Cluster) -> None:
    added = machines.add(cluster.lab.name, "worker")
    run = up(cluster.lab.spec_path)
    assert run.returncode == 0, run.output[-3000:]
    assert _ready(cluster.api()).get(added.name) is True
