"""Converge the machines to the spec: playbooks per stage, then the CNI through the API, then wait.

Every stage is idempotent and guarded (kubeadm init/join only where the node is not a member), so a
run stopped anywhere (failure, Ctrl-C) is finished by running `up` again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homelab_ctl.plan import Plan
from homelab_ctl.spec import Loaded
from homelab_ctl.state import encryption_key, state_dir

# (stage, playbook): the order of site.yml, one ansible-playbook run each for progress and timing.
PLAYBOOK_STAGES = (("prepare", "prepare.yml"), ("control-plane", "control_plane.yml"), ("workers", "workers.yml"))


@dataclass
class StageResult:
    name: str
    seconds: float
    changed: int  # tasks (playbook stages) or objects (cni) that changed
    detail: str = ""


@dataclass
class Summary:
    inventory: Path
    kubeconfig: Path
    stages: list[StageResult] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(s.changed for s in self.stages)


def converge(loaded: Loaded, plan: Plan, *, extra_vars: Mapping[str, Any] | None = None,
             artifacts: Path | None = None, api_server: str | None = None) -> Summary:
    from homelab_ctl.addons import artifacts as artifact_store
    from homelab_ctl.render import inventory
    from homelab_ctl.runner import Redactor, run_playbook

    state = state_dir(loaded)
    inv = state / "inventory"
    inventory.write(inventory.files(loaded), inv)
    summary = Summary(inventory=inv, kubeconfig=state / "admin.conf")
    secrets = Redactor()
    variables: dict[str, Any] = {"kubeadm_init_admin_conf_dest": str(summary.kubeconfig)}
    if loaded.cluster.spec.kubernetes.encrypt_secrets:
        key = encryption_key(loaded)
        secrets.add(key)
        variables["kubeadm_init_encryption_key"] = key
    mirror = artifact_store.mirror_dir(loaded, artifacts)
    if mirror is not None:  # --artifacts wins over spec.artifacts.dir for the roles too
        variables["homelab_artifacts_dir"] = str(mirror)
    variables.update(extra_vars or {})
    for stage, playbook in PLAYBOOK_STAGES:
        result = run_playbook(playbook, inv, stage=stage, state_dir=state, secrets=secrets, extravars=variables)
        summary.stages.append(StageResult(stage, result.elapsed, result.changed,
                                          ", ".join(result.changed_hosts) or "no change"))
    summary.stages.extend(_cni_and_wait(loaded, summary.kubeconfig, artifacts, api_server))
    return summary


def _cni_and_wait(loaded: Loaded, kubeconfig: Path, artifacts: Path | None,
                  api_server: str | None) -> list[StageResult]:
    from homelab_ctl.addons import artifacts as artifact_store
    from homelab_ctl.addons import flannel
    from homelab_ctl.kube import apply, connect, spinner, wait_for_nodes_ready, wait_for_pods_ready

    cluster = loaded.cluster
    started = time.monotonic()
    objects = flannel.manifests(cluster, mirror=artifact_store.mirror_dir(loaded, artifacts))
    with connect(kubeconfig, server=api_server) as kube:
        applied = apply(kube, objects)
        changed = [a for a in applied if a.action != "unchanged"]
        cni = StageResult("cni", time.monotonic() - started, len(changed),
                          f"flannel {len(applied)} objects, {len(changed)} changed")
        started = time.monotonic()
        names = [n.name for n in cluster.spec.nodes]
        with spinner("waiting for nodes to be Ready") as progress:
            wait_for_nodes_ready(kube, expected=names, progress=progress)
        with spinner("waiting for kube-system pods") as progress:
            wait_for_pods_ready(kube, "kube-system", progress=progress)
        ready = StageResult("ready", time.monotonic() - started, 0, f"{len(names)} nodes Ready")
    return [cni, ready]
