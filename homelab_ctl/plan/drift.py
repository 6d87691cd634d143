"""Drift (pure): what the roles manage on each host, compared with what it was after the last
converged `up`, decides which playbook stages a re-run needs.

The probe (facts/probe.py, section `drift`) reports `kind:name -> value`: content hashes of the
files the roles write, live sysctls, service states, package versions and holds, active swap, the
pinned images. When the inputs of a run (inventory, roles, extra variables, mirror) are those of
the last converged run and no value moved, no playbook has anything to do and none runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PLAYBOOK_STAGES = ("prepare", "control-plane", "workers")

# Keys owned by the Kubernetes stages (kube_packages, kube_vip, kubeadm_*): the control-plane stage
# on a control plane, the workers stage on a worker. Everything else belongs to prepare.
_KUBERNETES = ("package:kubeadm", "package:kubelet", "package:kubectl", "package:kubernetes-cni",
               "package:cri-tools", "service:kubelet", "file:/etc/kubernetes/", "file:/var/lib/kubelet/")


@dataclass(frozen=True)
class Converged:
    """What the last converged `up` left: the digest of its inputs and every host's drift values."""

    inputs: str
    hosts: Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class Change:
    host: str
    key: str
    was: str
    now: str

    def describe(self) -> str:
        kind, _, name = self.key.partition(":")
        if kind == "file":
            what = "missing" if self.now == "-" else "created" if self.was == "-" else "changed"
            return f"{name} {what}"
        return f"{kind} {name}: {self.now} (was {self.was})"


def stage_of(key: str, control_plane: bool) -> str:
    if key.startswith(_KUBERNETES):
        return "control-plane" if control_plane else "workers"
    return "prepare"


def changes(recorded: Mapping[str, Mapping[str, str]], current: Mapping[str, Mapping[str, str]]) -> list[Change]:
    """Every value that differs, per host in the order of `current`; a key on one side only counts."""
    out = []
    for host, now in current.items():
        was = recorded.get(host, {})
        for key in sorted(set(was) | set(now)):
            if was.get(key, "-") != now.get(key, "-"):
                out.append(Change(host, key, was.get(key, "-"), now.get(key, "-")))
    return out


def stages_for(found: Iterable[Change], control_planes: Iterable[str]) -> tuple[str, ...]:
    """The playbook stages that own the changed values, in run order."""
    cps = set(control_planes)
    needed = {stage_of(c.key, c.host in cps) for c in found}
    return tuple(s for s in PLAYBOOK_STAGES if s in needed)


def summary(found: list[Change], limit: int = 3) -> list[str]:
    """One line per drifted host: its first few changes."""
    per_host: dict[str, list[str]] = {}
    for change in found:
        per_host.setdefault(change.host, []).append(change.describe())
    lines = []
    for host, items in per_host.items():
        more = f" and {len(items) - limit} more" if len(items) > limit else ""
        lines.append(f"{host}: {'; '.join(items[:limit])}{more}")
    return lines
