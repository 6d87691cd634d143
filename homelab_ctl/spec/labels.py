"""Kubernetes label syntax, and the labels a kubelet may set on its own node (--node-labels).

Label rules as in k8s.io/apimachinery IsQualifiedName / IsValidLabelValue; the kubelet's rules as in
k8s.io/kubelet/pkg/apis (IsKubeletLabel): it refuses to start with other kubernetes.io or k8s.io keys.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*")
NAME_RULE = "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
VALUE_RULE = "empty or " + NAME_RULE

KUBELET_LABELS = frozenset({
    "kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch",
    "beta.kubernetes.io/os", "beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type",
    "node.kubernetes.io/instance-type", "topology.kubernetes.io/zone", "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
})
KUBELET_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
RESERVED_NAMESPACES = ("kubernetes.io", "k8s.io")


def key_problem(key: str) -> str | None:
    """Why `key` is not a label key ([DNS subdomain prefix '/'] name), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return "the prefix before '/' is empty"
    if prefix and (len(prefix) > 253 or not _SUBDOMAIN.fullmatch(prefix)):
        return "the prefix before '/' must be a lower-case DNS subdomain of at most 253 characters"
    if len(name) > 63 or not _NAME.fullmatch(name):
        return "the name must have " + NAME_RULE
    return None


def valid_value(value: str) -> bool:
    return value == "" or (len(value) <= 63 and _NAME.fullmatch(value) is not None)


def _in(namespace: str, domain: str) -> bool:
    return namespace == domain or namespace.endswith("." + domain)


def kubelet_refuses(key: str) -> str | None:
    """Why the kubelet would refuse to start with this key in --node-labels, or None."""
    namespace = key.split("/", 1)[0] if "/" in key else ""
    if not any(_in(namespace, d) for d in RESERVED_NAMESPACES):
        return None
    if key in KUBELET_LABELS or any(_in(namespace, d) for d in KUBELET_NAMESPACES):
        return None
    if _in(namespace, "node-role.kubernetes.io"):
        return ("may not be set by the kubelet on its own node: a node's role comes from its roles: list "
                "(set by homelab-ctl; kubeadm labels control planes node-role.kubernetes.io/control-plane); "
                "for your own grouping use a label outside kubernetes.io, e.g. role: storage")
    return ("is in the kubernetes.io/k8s.io namespace, where the kubelet sets only "
            f"{', '.join(d + '/*' for d in KUBELET_NAMESPACES)} and a few well-known keys "
            "(e.g. topology.kubernetes.io/zone): use a prefix of your own (e.g. example.com/...)")
