"""Recorded facts (tests/fixtures/facts) and small specs around them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from homelab_ctl.facts.models import HostFacts
from homelab_ctl.spec import Cluster, parse

FACTS = Path(__file__).resolve().parents[2] / "fixtures" / "facts"


def facts(name: str, **changes: Any) -> HostFacts:
    f = HostFacts.model_validate_json((FACTS / f"{name}.json").read_text())
    return f.model_copy(update=changes) if changes else f


def cluster(nodes: list[dict[str, Any]], **spec: Any) -> Cluster:
    cps = [n for n in nodes if "control-plane" in n["roles"]]
    body: dict[str, Any] = {"nodes": nodes, **spec}
    if len(cps) > 1 and "kubernetes" not in spec:
        body["kubernetes"] = {"controlPlaneEndpoint": {"vip": spec.pop("vip", "192.168.10.50")}}
    text = yaml.safe_dump({"apiVersion": "homelab-ctl/v1alpha1", "kind": "Cluster", "metadata": {"name": "t"},
                           "spec": body})
    result, problems = parse(text)
    assert result is not None, problems
    return result


def node(name: str, address: str, *roles: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "address": address, "roles": list(roles) or ["control-plane"], **extra}


def lab() -> tuple[Cluster, dict[str, HostFacts]]:
    """The three real lab machines, as recorded."""
    names = ["lab-cp1", "lab-cp2", "lab-cp3"]
    results = {n: facts(n) for n in names}
    spec = cluster([node(n, results[n].address) for n in names], kubernetes={
        "controlPlaneEndpoint": {"vip": "10.90.1.200"}, "failCgroupV1": False, "containerNodes": True})
    return spec, results


def metal(**spec: Any) -> tuple[Cluster, dict[str, HostFacts]]:
    """Three bare-metal control planes and a Raspberry Pi worker."""
    results = {f.node: f for f in (facts("metal-cp1"), facts("metal-cp2"), facts("metal-cp3"), facts("metal-w1"))}
    nodes = [node(n, f.address, "worker" if n == "w1" else "control-plane") for n, f in results.items()]
    return cluster(nodes, **spec), results
