"""Server-side apply of manifests (fieldManager homelab-ctl, force), in dependency order, saying
per object whether it was created, configured or left unchanged (a re-run must change nothing)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from homelab_ctl.errors import KubernetesError
from homelab_ctl.kube.client import Kube

FIELD_MANAGER = "homelab-ctl"

# Like Helm's install order: what others refer to goes first; unknown kinds (custom resources) last.
KIND_ORDER = (
    "Namespace", "CustomResourceDefinition", "PriorityClass", "StorageClass", "ServiceAccount", "Secret",
    "ConfigMap", "PersistentVolume", "PersistentVolumeClaim", "ClusterRole", "ClusterRoleBinding", "Role",
    "RoleBinding", "Service", "DaemonSet", "Deployment", "StatefulSet", "Job", "CronJob",
    "PodDisruptionBudget", "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
)
_RANK = {kind: i for i, kind in enumerate(KIND_ORDER)}

Action = Literal["created", "configured", "unchanged"]


@dataclass(frozen=True)
class Applied:
    kind: str
    name: str
    namespace: str | None
    action: Action

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} {self.action}"


def ordered(manifests: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stable sort by KIND_ORDER: the file's own order is kept within a kind."""
    return sorted(manifests, key=lambda m: _RANK.get(str(m.get("kind")), len(_RANK)))


def _identity(obj: dict[str, Any]) -> tuple[str, str, str, str | None]:
    try:
        api_version, kind, meta = obj["apiVersion"], obj["kind"], obj["metadata"]
        name = meta["name"]
    except (KeyError, TypeError):
        raise KubernetesError(f"not a Kubernetes object (apiVersion, kind and metadata.name needed): "
                              f"{str(obj)[:120]}") from None
    return str(api_version), str(kind), str(name), meta.get("namespace")


def apply(
    kube: Kube,
    manifests: Iterable[dict[str, Any]],
    *,
    field_manager: str = FIELD_MANAGER,
    default_namespace: str = "default",
    progress: Callable[[Applied], None] | None = None,
) -> list[Applied]:
    """Apply every object; stops at the first the API refuses (KubernetesError naming it)."""
    from kubernetes.dynamic.exceptions import NotFoundError

    results = []
    for obj in ordered(manifests):
        api_version, kind, name, namespace = _identity(obj)
        resource = kube.resource(api_version, kind)
        namespace = (namespace or default_namespace) if resource.namespaced else None
        body = copy.deepcopy(obj)
        if namespace:
            body["metadata"]["namespace"] = namespace
        label = f"{kind} {namespace + '/' if namespace else ''}{name}"
        try:
            try:
                before = kube.dynamic.get(resource, name=name, namespace=namespace)
                version_before = before.metadata.resourceVersion
            except NotFoundError:
                version_before = None
            after = kube.dynamic.server_side_apply(
                resource, body=body, name=name, namespace=namespace, field_manager=field_manager,
                force_conflicts=True,  # homelab-ctl owns these fields: take them back from manual edits
            )
        except Exception as exc:
            raise kube.error(f"apply {label}", exc) from None
        version_after = after.metadata.resourceVersion
        action: Action = ("created" if version_before is None
                          else "unchanged" if version_after == version_before else "configured")
        applied = Applied(kind, name, namespace, action)
        results.append(applied)
        if progress is not None:
            progress(applied)
    return results
