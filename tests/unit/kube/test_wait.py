"""Readiness waits against the Kubernetes API TEST DOUBLE, whose node/pod status the tests drive."""

from __future__ import annotations

from pathlib import Path

import pytest

from homelab_ctl.errors import KubernetesError
from homelab_ctl.kube import (
    Kube,
    Poll,
    apply,
    wait_for_nodes_ready,
    wait_for_pods_ready,
    wait_for_rollout,
    wait_until,
)
from tests.doubles.apiserver import KubeApiDouble, node, pod

FAST = {"interval": 0.02}


def test_returns_once_nodes_turn_ready(api: KubeApiDouble, kube: Kube) -> None:
    names = ["cp1", "cp2", "w1"]
    for name in names:
        api.add(node(name, ready=False))

    def kubelets_come_up(poll: int) -> None:  # all Ready from the 3rd poll on
        if poll == 3:
            for name in names:
                api.add(node(name, ready=True))

    api.before_list["nodes"] = kubelets_come_up
    seen: list[str] = []
    result = wait_for_nodes_ready(kube, expected=names, timeout=30, progress=seen.append, **FAST)
    assert result == Poll(True, "3/3 nodes Ready")
    assert api.list_counts["nodes"] == 3
    assert seen == ["0/3 nodes Ready; not ready: cp1, cp2, w1", "3/3 nodes Ready"]  # only changes are reported


def test_times_out_naming_what_is_missing(api: KubeApiDouble, kube: Kube) -> None:
    api.add(node("cp1", ready=True))
    api.add(node("w1", ready=False))
    with pytest.raises(KubernetesError) as caught:
        wait_for_nodes_ready(kube, expected=["cp1", "cp2", "w1"], timeout=1.0, **FAST)
    assert caught.value.message == ("timed out after 1s waiting for nodes to be Ready: "
                                    "1/3 nodes Ready; not registered: cp2; not ready: w1")
    assert api.list_counts["nodes"] > 1  # it did poll


def test_no_nodes_at_all_is_not_ready(api: KubeApiDouble, kube: Kube) -> None:
    with pytest.raises(KubernetesError, match="0/0 nodes Ready"):
        wait_for_nodes_ready(kube, timeout=0.1, **FAST)


def test_kube_system_pods(api: KubeApiDouble, kube: Kube) -> None:
    api.add(pod("etcd-cp1", "kube-system", "Running", ready=True))
    api.add(pod("coredns-abc", "kube-system", "Pending", ready=False))
    api.add(pod("kube-proxy-x", "kube-system", "Running", ready=False, waiting="CrashLoopBackOff"))
    api.add(pod("done", "kube-system", "Succeeded", ready=False))
    api.add(pod("elsewhere", "default", "Pending", ready=False))  # other namespaces do not count
    with pytest.raises(KubernetesError) as caught:
        wait_for_pods_ready(kube, timeout=0.1, **FAST)
    assert caught.value.message.endswith(
        "waiting for pods in kube-system to be ready: 2/4 pods ready in kube-system; "
        "coredns-abc Pending, kube-proxy-x CrashLoopBackOff")

    def heal(poll: int) -> None:
        api.add(pod("coredns-abc", "kube-system", "Running", ready=True))
        api.add(pod("kube-proxy-x", "kube-system", "Running", ready=True))

    api.before_list["pods"] = heal
    assert wait_for_pods_ready(kube, timeout=10, **FAST).status == "4/4 pods ready in kube-system"


def test_empty_namespace_is_not_ready(kube: Kube) -> None:
    with pytest.raises(KubernetesError, match=r"0/0 pods ready in kube-system \(waiting for at least 1\)"):
        wait_for_pods_ready(kube, timeout=0.1, **FAST)


def test_daemonset_rollout(api: KubeApiDouble, kube: Kube) -> None:
    apply(kube, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-flannel"}},
                 {"apiVersion": "apps/v1", "kind": "DaemonSet",
                  "metadata": {"name": "kube-flannel-ds", "namespace": "kube-flannel"},
                  "spec": {"selector": {"matchLabels": {"app": "flannel"}}, "template": {
                      "metadata": {"labels": {"app": "flannel"}},
                      "spec": {"containers": [{"name": "kube-flannel", "image": "flannel"}]}}}}])
    with pytest.raises(KubernetesError, match="DaemonSet kube-flannel/kube-flannel-ds: 0/0 updated and available"):
        wait_for_rollout(kube, "DaemonSet", "kube-flannel", "kube-flannel-ds", timeout=0.1, **FAST)
    api.set_status("DaemonSet", "kube-flannel-ds", "kube-flannel", {
        "observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2,
        "currentNumberScheduled": 3, "numberMisscheduled": 0, "numberReady": 2})
    with pytest.raises(KubernetesError, match="2/3 updated and available"):
        wait_for_rollout(kube, "DaemonSet", "kube-flannel", "kube-flannel-ds", timeout=0.1, **FAST)
    api.set_status("DaemonSet", "kube-flannel-ds", "kube-flannel", {
        "observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 3,
        "currentNumberScheduled": 3, "numberMisscheduled": 0, "numberReady": 3})
    assert wait_for_rollout(kube, "DaemonSet", "kube-flannel", "kube-flannel-ds", timeout=5, **FAST).done


def test_missing_workload_is_waited_for(kube: Kube) -> None:
    with pytest.raises(KubernetesError, match="Deployment kube-system/coredns does not exist yet"):
        wait_for_rollout(kube, "Deployment", "kube-system", "coredns", timeout=0.1, **FAST)


def test_api_errors_while_waiting_are_retried() -> None:
    """An API server restarting mid-wait is normal: errors count as 'not yet' until the deadline."""
    now = [0.0]
    answers = iter([KubernetesError("cannot reach the Kubernetes API at https://vip:6443: refused"),
                    Poll(False, "1/2"), Poll(True, "2/2")])

    def check() -> Poll:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def sleep(seconds: float) -> None:
        now[0] += seconds

    seen: list[str] = []
    result = wait_until(check, what="x", timeout=60, interval=5, progress=seen.append, clock=lambda: now[0],
                        sleep=sleep)
    assert result.done and now[0] == 10
    assert seen[0].startswith("cannot reach") and seen[1:] == ["1/2", "2/2"]


def test_timeout_message_uses_minutes() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(KubernetesError, match=r"^timed out after 10m00s waiting for x: still 1/2$"):
        wait_until(lambda: Poll(False, "still 1/2"), what="x", timeout=600, interval=7, clock=lambda: now[0],
                   sleep=sleep)
    assert now[0] == 600


def test_spinner_reports_the_last_status(api: KubeApiDouble, kube: Kube) -> None:
    import io

    from rich.console import Console

    from homelab_ctl.kube.progress import spinner

    api.add(node("cp1", ready=True))
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system=None, width=120)
    with spinner("Nodes", console) as progress:
        wait_for_nodes_ready(kube, timeout=5, progress=progress, **FAST)
    assert buffer.getvalue().rstrip().endswith("Nodes: 1/1 nodes Ready (0s)")
    with pytest.raises(KubernetesError), spinner("Pods", console) as progress:
        wait_for_pods_ready(kube, timeout=0.05, progress=progress, **FAST)
    assert buffer.getvalue().rstrip().endswith("Pods failed after 0s")


def test_server_override(api: KubeApiDouble, tmp_path: Path) -> None:
    from homelab_ctl.kube import connect
    from tests.doubles.apiserver import write_kubeconfig

    kubeconfig = write_kubeconfig(tmp_path / "kc", "https://192.0.2.1:6443")  # never contacted
    with connect(kubeconfig, server=api.url) as k:
        assert k.server == api.url
        api.add(node("cp1", ready=True))
        assert wait_for_nodes_ready(k, timeout=5, **FAST).done
