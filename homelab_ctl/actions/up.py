"""Converge the machines to the spec: playbooks per stage, then the CNI through the API, then wait.

Every stage is idempotent and guarded (kubeadm init/join only where the node is not a member), so a
run stopped anywhere (failure, Ctrl-C) is finished by running `up` again.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homelab_ctl.plan import Plan
from homelab_ctl.plan.drift import Converged
from homelab_ctl.runner.redact import Redactor
from homelab_ctl.spec import Loaded
from homelab_ctl.state import encryption_key, forget_converged, state_dir, write_converged

# (stage, playbook): the order of site.yml, one ansible-playbook run each for progress and timing.
PLAYBOOK_STAGES = (("prepare", "prepare.yml"), ("control-plane", "control_plane.yml"), ("workers", "workers.yml"))


@dataclass
class StageResult:
    name: str
    seconds: float
    changed: int  # tasks (playbook stages) or objects (cni) that changed
    detail: str = ""
    tasks: list[tuple[str, float]] = field(default_factory=list)  # slowest tasks first (playbook stages)


@dataclass
class Summary:
    inventory: Path
    kubeconfig: Path
    stages: list[StageResult] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(s.changed for s in self.stages)


def variables(loaded: Loaded, extra_vars: Mapping[str, Any] | None, artifacts: Path | None,
              create_key: bool = True) -> tuple[dict[str, Any], Redactor]:
    """The extra variables of every playbook, and a redactor that knows the secrets among them."""
    from homelab_ctl.addons import artifacts as artifact_store

    secrets = Redactor()
    values: dict[str, Any] = {"kubeadm_init_admin_conf_dest": str(state_dir(loaded, create=create_key) / "admin.conf")}
    if loaded.cluster.spec.kubernetes.encrypt_secrets:
        key = encryption_key(loaded, create=create_key)
        if key is not None:
            secrets.add(key)
            values["kubeadm_init_encryption_key"] = key
    mirror = artifact_store.mirror_dir(loaded, artifacts)
    if mirror is not None:  # --artifacts wins over spec.artifacts.dir for the roles too
        values["homelab_artifacts_dir"] = str(mirror)
    values.update(extra_vars or {})
    return values, secrets


def inputs_digest(loaded: Loaded, extra_vars: Mapping[str, Any] | None, artifacts: Path | None) -> str:
    """sha256 over everything a run of the playbooks depends on besides the hosts themselves: the
    rendered inventory, the variables, the roles and playbooks, the mirror's checksums, this version.
    Changes nothing (no key is generated)."""
    import hashlib

    from homelab_ctl import __version__
    from homelab_ctl.addons import artifacts as artifact_store
    from homelab_ctl.render import inventory
    from homelab_ctl.runner.paths import ansible_paths

    digest = hashlib.sha256(f"homelab-ctl {__version__}\n".encode())
    for name, text in sorted(inventory.files(loaded).items()):
        digest.update(f"inventory {name}\n{text}\n".encode())
    values, _ = variables(loaded, extra_vars, artifacts, create_key=False)
    digest.update(json.dumps(values, sort_keys=True, default=str).encode())
    root = ansible_paths().root
    content = [root / "ansible.cfg", *sorted((root / "playbooks").rglob("*")), *sorted((root / "roles").rglob("*"))]
    for path in content:
        if path.is_file() and "molecule" not in path.relative_to(root).parts:
            digest.update(f"\nfile {path.relative_to(root)}\n".encode() + path.read_bytes())
    mirror = artifact_store.mirror_dir(loaded, artifacts)
    if mirror is not None:
        for sums in sorted(mirror.rglob("SHA256SUMS")):
            digest.update(f"\nsums {sums.relative_to(mirror)}\n".encode() + sums.read_bytes())
    return digest.hexdigest()


def converge(loaded: Loaded, plan: Plan, *, extra_vars: Mapping[str, Any] | None = None,
             artifacts: Path | None = None, api_server: str | None = None) -> Summary:
    """Run the playbook stages the plan names, then the CNI and the readiness waits; once all of it
    succeeded, record what the hosts look like (the next `up` compares against it)."""
    from homelab_ctl.render import inventory
    from homelab_ctl.runner import run_playbook

    state = state_dir(loaded)
    inv = state / "inventory"
    inventory.write(inventory.files(loaded), inv)
    summary = Summary(inventory=inv, kubeconfig=state / "admin.conf")
    values, secrets = variables(loaded, extra_vars, artifacts)
    if plan.stages:
        forget_converged(loaded)
    shutil.rmtree(state / "facts", ignore_errors=True)  # facts are gathered once per run, not kept
    forks = len(loaded.cluster.spec.nodes)
    for stage, playbook in PLAYBOOK_STAGES:
        if stage not in plan.stages:
            summary.stages.append(StageResult(stage, 0.0, 0, "skipped: nothing drifted"))
            continue
        result = run_playbook(playbook, inv, stage=stage, state_dir=state, secrets=secrets, extravars=values,
                              forks=forks, facts_cache=state / "facts")
        summary.stages.append(StageResult(stage, result.elapsed, result.changed,
                                          ", ".join(result.changed_hosts) or "no change", result.slowest_tasks))
    summary.stages.extend(_cni_and_wait(loaded, summary.kubeconfig, artifacts, api_server))
    if plan.stages:  # otherwise the hosts are as recorded and the record stands
        summary.stages.append(_record(loaded, extra_vars, artifacts))
    _write_timings(state, summary)
    return summary


def _write_timings(state: Path, summary: Summary) -> None:
    """state/timings.json: where the last run's time went (bench/up_lab.py prints it)."""
    stages = [{"name": s.name, "seconds": round(s.seconds, 2), "changed": s.changed, "detail": s.detail,
               "tasks": s.tasks} for s in summary.stages]
    (state / "timings.json").write_text(json.dumps({"stages": stages}, indent=1) + "\n", encoding="utf-8")


def _record(loaded: Loaded, extra_vars: Mapping[str, Any] | None, artifacts: Path | None) -> StageResult:
    """Probe every host again (one SSH round) and keep its drift values with the inputs' digest."""
    from homelab_ctl.errors import HomelabError
    from homelab_ctl.facts.gather import gather
    from homelab_ctl.facts.models import HostFacts

    started = time.monotonic()
    found = gather(loaded)
    missing = [node for node, facts in found.items() if not isinstance(facts, HostFacts)]
    if missing:
        raise HomelabError(f"the cluster is up, but {', '.join(missing)} did not answer the final probe",
                           hint="run up again: it re-checks every host")
    hosts = {node: facts.drift for node, facts in found.items() if isinstance(facts, HostFacts)}
    write_converged(loaded, Converged(inputs_digest(loaded, extra_vars, artifacts), hosts))
    return StageResult("record", time.monotonic() - started, 0, f"{len(hosts)} hosts recorded")


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
