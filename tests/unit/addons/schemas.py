"""Strict schema validation of manifests with kubernetes-validate (the real Kubernetes OpenAPI
schemas, additionalProperties forbidden)."""

from __future__ import annotations

import warnings
from typing import Any

import kubernetes_validate
from kubernetes_validate import utils


def schema_version(kubernetes_version: str) -> str:
    """The target's minor when kubernetes-validate has its schemas, else its newest (with a warning)."""
    wanted = utils.major_minor(kubernetes_version.lstrip("v"))
    have = {utils.major_minor(v) for v in utils.all_versions()}
    if wanted in have:
        return wanted
    newest = utils.major_minor(utils.latest_version())
    warnings.warn(f"kubernetes-validate has no schemas for Kubernetes {wanted}: validating against {newest}",
                  stacklevel=2)
    return newest


def validate_strict(obj: dict[str, Any], kubernetes_version: str) -> str:
    """Raises kubernetes_validate.ValidationError on any schema violation; the schema version used."""
    return str(kubernetes_validate.validate(obj, schema_version(kubernetes_version), strict=True))
