"""Readiness waits: poll a check until it passes or the timeout ends (a KubernetesError saying what
was still missing). API errors while polling are retried: an API server restarting is normal here."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from homelab_ctl.errors import KubernetesError
from homelab_ctl.kube.client import Kube

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Poll:
    done: bool
    status: str  # one line for the progress display and the timeout error


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def wait_until(
    check: Callable[[], Poll],
    *,
    what: str,
    timeout: float,
    interval: float = 3.0,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Poll:
    deadline = clock() + timeout
    last = ""
    while True:
        try:
            poll = check()
        except KubernetesError as exc:
            poll = Poll(False, exc.message)
        if progress is not None and poll.status != last:
            progress(poll.status)
            last = poll.status
        if poll.done:
            return poll
        remaining = deadline - clock()
        if remaining <= 0:
            raise KubernetesError(f"timed out after {_duration(timeout)} waiting for {what}: {poll.status}")
        sleep(min(interval, remaining))


Obj = dict[str, Any]


def _list(kube: Kube, api_version: str, kind: str, namespace: str | None = None) -> list[Obj]:
    resource = kube.resource(api_version, kind)
    try:
        items = kube.dynamic.get(resource, namespace=namespace).to_dict().get("items")
    except Exception as exc:
        raise kube.error(f"list {kind}", exc) from None
    return list(items or [])


def _name(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("name", "?"))


def _condition(obj: Obj, kind: str) -> bool:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return bool(cond.get("status") == "True")
    return False


def _names(names: Collection[str], limit: int = 5) -> str:
    shown = sorted(names)
    return ", ".join(shown[:limit]) + (f" and {len(shown) - limit} more" if len(shown) > limit else "")


def nodes_ready(kube: Kube, expected: Collection[str] | None = None) -> Poll:
    nodes = _list(kube, "v1", "Node")
    present = {_name(n) for n in nodes}
    ready = {_name(n) for n in nodes if _condition(n, "Ready")}
    wanted = set(expected) if expected is not None else present
    missing, not_ready = wanted - present, (wanted & present) - ready
    status = f"{len(wanted & ready)}/{len(wanted)} nodes Ready"
    if missing:
        status += f"; not registered: {_names(missing)}"
    if not_ready:
        status += f"; not ready: {_names(not_ready)}"
    return Poll(bool(wanted) and not missing and not not_ready, status)


def _pod_problem(pod: Obj) -> str | None:
    """None when the pod is fine (Running and Ready, or Succeeded); else a few words why not."""
    status = pod.get("status") or {}
    phase = status.get("phase") or "Unknown"
    if phase == "Succeeded" or (phase == "Running" and _condition(pod, "Ready")):
        return None
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            return str(waiting["reason"])
    return phase if phase != "Running" else "not ready"


def pods_ready(kube: Kube, namespace: str, min_pods: int = 1) -> Poll:
    pods = _list(kube, "v1", "Pod", namespace)
    problems = {_name(p): why for p in pods if (why := _pod_problem(p)) is not None}
    status = f"{len(pods) - len(problems)}/{len(pods)} pods ready in {namespace}"
    if problems:
        status += "; " + ", ".join(f"{name} {why}" for name, why in sorted(problems.items())[:5])
    if len(pods) < min_pods:
        status += f" (waiting for at least {min_pods})"
    return Poll(len(pods) >= min_pods and not problems, status)


def rollout_complete(kube: Kube, kind: str, namespace: str, name: str) -> Poll:
    """DaemonSet, Deployment or StatefulSet: the current generation is rolled out and available."""
    from kubernetes.dynamic.exceptions import NotFoundError

    resource = kube.resource("apps/v1", kind)
    label = f"{kind} {namespace}/{name}"
    try:
        obj = kube.dynamic.get(resource, name=name, namespace=namespace).to_dict()
    except NotFoundError:
        return Poll(False, f"{label} does not exist yet")
    except Exception as exc:
        raise kube.error(f"get {label}", exc) from None
    s = obj.get("status") or {}
    current = (s.get("observedGeneration") or 0) >= (obj.get("metadata", {}).get("generation") or 0)
    if kind == "DaemonSet":
        want = s.get("desiredNumberScheduled") or 0
        have = min(s.get("updatedNumberScheduled") or 0, s.get("numberAvailable") or 0)
    else:
        want = (obj.get("spec") or {}).get("replicas", 1)
        have = min(s.get("updatedReplicas") or 0, s.get("availableReplicas") or s.get("readyReplicas") or 0)
    done = current and have >= want and (want > 0 or kind != "DaemonSet")
    return Poll(done, f"{label}: {have}/{want} updated and available")


def wait_for_nodes_ready(kube: Kube, *, expected: Collection[str] | None = None, timeout: float = 600,
                         interval: float = 5, progress: Progress | None = None) -> Poll:
    """Every expected node (default: every registered node) has condition Ready=True."""
    return wait_until(lambda: nodes_ready(kube, expected), what="nodes to be Ready", timeout=timeout,
                      interval=interval, progress=progress)


def wait_for_pods_ready(kube: Kube, namespace: str = "kube-system", *, min_pods: int = 1, timeout: float = 600,
                        interval: float = 5, progress: Progress | None = None) -> Poll:
    """Every pod of the namespace is Running and Ready (or Succeeded)."""
    return wait_until(lambda: pods_ready(kube, namespace, min_pods), what=f"pods in {namespace} to be ready",
                      timeout=timeout, interval=interval, progress=progress)


def wait_for_rollout(kube: Kube, kind: str, namespace: str, name: str, *, timeout: float = 600,
                     interval: float = 5, progress: Progress | None = None) -> Poll:
    return wait_until(lambda: rollout_complete(kube, kind, namespace, name),
                      what=f"{kind} {namespace}/{name} to roll out", timeout=timeout, interval=interval,
                      progress=progress)
