"""Talking to the cluster with the kubernetes client (imported lazily): connect with a kubeconfig,
server-side apply, readiness waits; and merging the admin kubeconfig into the user's.

    with connect(state_dir / "admin.conf") as kube:
        apply(kube, objects)                       -> list[Applied]
        with spinner("Nodes") as progress:
            wait_for_nodes_ready(kube, expected=[...], progress=progress)
        wait_for_pods_ready(kube, "kube-system")
"""

from homelab_ctl.kube.apply import FIELD_MANAGER, Applied, apply
from homelab_ctl.kube.client import Kube, connect
from homelab_ctl.kube.progress import spinner
from homelab_ctl.kube.wait import (
    Poll,
    wait_for_nodes_ready,
    wait_for_pods_ready,
    wait_for_rollout,
    wait_until,
)

__all__ = ["FIELD_MANAGER", "Applied", "Kube", "Poll", "apply", "connect", "spinner", "wait_for_nodes_ready",
           "wait_for_pods_ready", "wait_for_rollout", "wait_until"]
