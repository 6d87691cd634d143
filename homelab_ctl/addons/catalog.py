"""Pinned component versions and which Kubernetes minors each supports.

Pure data: the spec validator reads it, the renderers and (later) the add-on installer too.
"""

from __future__ import annotations

from dataclasses import dataclass

# Kubernetes minors this tool drives with kubeadm's v1beta4 configuration.
KUBERNETES_MINORS: tuple[tuple[int, int], ...] = ((1, 33), (1, 34), (1, 35), (1, 36))
DEFAULT_KUBERNETES_VERSION = "1.36.3"

# The sandbox (pause) image kubeadm expects for each minor; containerd must use the same one.
PAUSE_IMAGE = {
    (1, 33): "registry.k8s.io/pause:3.10",
    (1, 34): "registry.k8s.io/pause:3.10.1",
    (1, 35): "registry.k8s.io/pause:3.10.1",
    (1, 36): "registry.k8s.io/pause:3.10.2",  # kubeadm v1.36.3 constants.PauseVersion
}


@dataclass(frozen=True)
class Component:
    name: str
    version: str
    min_kubernetes: tuple[int, int]
    max_kubernetes: tuple[int, int] | None  # None: no known upper bound


FLANNEL = Component("flannel", "v0.28.9", (1, 28), None)
POSTGRES_OPERATOR = Component("postgres-operator", "v2.0.1", (1, 27), None)
KUBEVIRT = Component("kubevirt", "v1.9.0", (1, 34), (1, 36))
CDI = Component("containerized-data-importer", "v1.63.0", (1, 31), None)
METALLB = Component("metallb", "v0.15.2", (1, 25), None)
KUBE_VIP = Component("kube-vip", "v1.2.1", (1, 29), None)

# Versions a spec may ask for, per add-on (the first one is the default).
SUPPORTED: dict[str, tuple[Component, ...]] = {
    "flannel": (FLANNEL,),
    "postgresOperator": (POSTGRES_OPERATOR,),
    "kubevirt": (KUBEVIRT,),
    "metallb": (METALLB,),
}


def minor(version: str) -> tuple[int, int]:
    """'1.36.3' or 'v1.36.3' -> (1, 36)."""
    major, minor_, *_ = version.lstrip("v").split(".")
    return int(major), int(minor_)


def fmt(m: tuple[int, int]) -> str:
    return f"{m[0]}.{m[1]}"


def supports(component: Component, kubernetes: tuple[int, int]) -> bool:
    if kubernetes < component.min_kubernetes:
        return False
    return component.max_kubernetes is None or kubernetes <= component.max_kubernetes


def support_range(component: Component) -> str:
    low = fmt(component.min_kubernetes)
    return f"{low}-{fmt(component.max_kubernetes)}" if component.max_kubernetes else f">= {low}"


@dataclass(frozen=True)
class PinnedFile:
    """A file downloaded at deploy time. sha256 None: unknown here, recorded in the lock file on
    first download (homelab-ctl.lock next to the spec) and verified on every later run."""

    component: str  # also the folder of an offline mirror: <dir>/<component>/<version>/<name>
    version: str
    name: str
    url: str
    sha256: str | None


FLANNEL_MANIFEST = PinnedFile(
    FLANNEL.name, FLANNEL.version, "kube-flannel.yml",
    f"https://raw.githubusercontent.com/flannel-io/flannel/{FLANNEL.version}/Documentation/kube-flannel.yml",
    "e875824be2f552b45711dbda91af81b17eb961d00025d914d9fef18fad8f09c0",
)
# Generated at release time, not in git: no sum is known before the first download.
KUBEVIRT_OPERATOR = PinnedFile(
    KUBEVIRT.name, KUBEVIRT.version, "kubevirt-operator.yaml",
    f"https://github.com/kubevirt/kubevirt/releases/download/{KUBEVIRT.version}/kubevirt-operator.yaml", None,
)
KUBEVIRT_CR = PinnedFile(
    KUBEVIRT.name, KUBEVIRT.version, "kubevirt-cr.yaml",
    f"https://github.com/kubevirt/kubevirt/releases/download/{KUBEVIRT.version}/kubevirt-cr.yaml", None,
)
