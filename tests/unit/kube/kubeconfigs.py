"""Fake kubeconfigs for tests: a kubeadm-shaped admin.conf with random (not real) key material."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import Any

import yaml


def pem(kind: str) -> str:
    body = base64.encodebytes(secrets.token_bytes(96)).decode()
    return base64.b64encode(f"-----BEGIN {kind}-----\n{body}-----END {kind}-----\n".encode()).decode()


def admin_conf(server: str = "https://192.168.10.50:6443") -> dict[str, Any]:
    """What kubeadm writes to /etc/kubernetes/admin.conf."""
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "kubernetes", "cluster": {"certificate-authority-data": pem("CERTIFICATE"),
                                                        "server": server}}],
        "contexts": [{"name": "kubernetes-admin@kubernetes",
                      "context": {"cluster": "kubernetes", "user": "kubernetes-admin"}}],
        "current-context": "kubernetes-admin@kubernetes",
        "users": [{"name": "kubernetes-admin", "user": {"client-certificate-data": pem("CERTIFICATE"),
                                                        "client-key-data": pem("RSA PRIVATE KEY")}}],
    }


def other_kubeconfig() -> dict[str, Any]:
    """A user's existing kubeconfig with another cluster in it."""
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {"colors": True},
        "clusters": [{"name": "work", "cluster": {"server": "https://k8s.work.example:443",
                                                  "certificate-authority-data": pem("CERTIFICATE")}}],
        "users": [{"name": "work-user", "user": {"token": "work-token-value"}}],
        "contexts": [{"name": "work", "context": {"cluster": "work", "user": "work-user", "namespace": "apps"}}],
        "current-context": "work",
    }


def write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def key_material(admin: dict[str, Any]) -> list[str]:
    """Every secret-ish string in an admin.conf, encoded and decoded."""
    values = [admin["users"][0]["user"]["client-key-data"], admin["users"][0]["user"]["client-certificate-data"],
              admin["clusters"][0]["cluster"]["certificate-authority-data"]]
    return values + [base64.b64decode(v).decode().splitlines()[1] for v in values]
