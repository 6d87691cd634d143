"""Rules that relate several parts of a spec. Each rule yields every problem it sees.

Rules also run on a partial spec (some fields invalid): they use a value only when `ok` says it is
known, so that a bad field hides nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from homelab_ctl.addons import catalog
from homelab_ctl.spec import files, networks
from homelab_ctl.spec.models import ClusterSpec
from homelab_ctl.spec.partial import Known
from homelab_ctl.spec.problems import Loc, Problem
from homelab_ctl.spec.show import quote

Rule = Callable[[ClusterSpec, Known], Iterator[Problem]]
S: Loc = ("spec",)
log = logging.getLogger(__name__)


def _err(loc: Loc, message: str) -> Problem:
    return Problem(S + loc, message)


def _warn(loc: Loc, message: str) -> Problem:
    return Problem(S + loc, message, severity="warning")


def _duplicates(spec: ClusterSpec, ok: Known) -> Iterator[Problem]:
    for field in ("name", "address"):
        first: dict[str, int] = {}
        for i, node in enumerate(spec.nodes):
            if not ok("nodes", i, field):
                continue
            value = getattr(node, field)
            if value in first:
                yield _err(("nodes", i, field), f"{quote(value)} is already used by spec.nodes[{first[value]}]")
            else:
                first[value] = i
    seen_ssh: dict[tuple[str, int], int] = {}
    for i, node in enumerate(spec.nodes):
        if not ok("nodes", i, "ssh") or node.ssh is None or node.ssh.host is None:
            continue
        if node.ssh.port is None and not ok("ssh", "port"):
            continue
        target = (node.ssh.host, node.ssh.port or spec.ssh.port)
        if target in seen_ssh:
            yield _err(
                ("nodes", i, "ssh"),
                f"{target[0]}:{target[1]} is already the SSH target of spec.nodes[{seen_ssh[target]}]",
            )
        else:
            seen_ssh[target] = i
    macs: dict[str, int] = {}
    for i, node in enumerate(spec.nodes):
        if not ok("nodes", i, "identity"):
            continue
        for mac in node.identity.macs if node.identity else []:
            if mac in macs and macs[mac] != i:
                yield _err(("nodes", i, "identity", "macs"), f"{mac} is also pinned on spec.nodes[{macs[mac]}]")
            macs.setdefault(mac, i)


def _roles_known(spec: ClusterSpec, ok: Known) -> bool:
    return ok.present("nodes") and all(ok("nodes", i, "roles") for i in range(len(spec.nodes)))


def _control_planes(spec: ClusterSpec, ok: Known) -> Iterator[Problem]:
    if not _roles_known(spec, ok):
        return
    count = len(spec.control_planes)
    if count == 0:
        yield _err(("nodes",), "no node has the control-plane role (at least one is needed)")
    elif count == 1:
        yield _warn(("nodes",), "one control plane is not highly available (use 3 for HA)")
    elif count % 2 == 0:
        yield _err(
            ("nodes",),
            f"{count} control planes is an even number: etcd needs a majority ({count // 2 + 1} of {count}) "
            f"to keep working, so {count} tolerate {(count - 1) // 2} failure(s), no more than {count - 1} "
            f"would; use an odd number ({count - 1} or {count + 1})",
        )
    if count > 1 and ok("kubernetes", "controlPlaneEndpoint") and spec.kubernetes.control_plane_endpoint is None:
        yield _err(
            ("kubernetes", "controlPlaneEndpoint"),
            f"{count} control planes need a shared endpoint: set vip (kube-vip) or host (load balancer)",
        )


def _versions(spec: ClusterSpec, ok: Known) -> Iterator[Problem]:
    if not ok("kubernetes", "version"):
        return
    version = spec.kubernetes.version
    k8s = catalog.minor(version)
    if k8s not in catalog.KUBERNETES_MINORS:
        supported = ", ".join(catalog.fmt(m) for m in catalog.KUBERNETES_MINORS)
        yield _err(("kubernetes", "version"), f"Kubernetes {version} is not supported (supported: {supported})")
        return
    for key in ("postgresOperator", "kubevirt", "metallb"):
        if not ok("addons", key, "version"):
            continue
        addon: Any = getattr(spec.addons, {"postgresOperator": "postgres_operator"}.get(key, key))
        if addon is None:
            continue
        by_version = {c.version: c for c in catalog.SUPPORTED[key]}
        component = by_version.get(addon.version)
        if component is None:
            yield _err(
                ("addons", key, "version"),
                f"{quote(addon.version)} is not a supported version (supported: {', '.join(by_version)})",
            )
        elif not catalog.supports(component, k8s):
            yield _err(
                ("addons", key, "version"),
                f"{component.name} {component.version} supports Kubernetes {catalog.support_range(component)}, "
                f"not Kubernetes {version}",
            )


def _storage(spec: ClusterSpec, ok: Known) -> Iterator[Problem]:
    if not (ok("storage", "localPath", "default") and ok("storage", "nfs", "default")):
        return
    defaults = [name for name, cls in (("localPath", spec.storage.local_path), ("nfs", spec.storage.nfs))
                if cls is not None and cls.default]
    if len(defaults) > 1:
        yield _err(("storage",), f"only one default StorageClass may be set (both {' and '.join(defaults)} are)")
    if not ok("addons", "postgresOperator", "clusters"):
        return
    operator = spec.addons.postgres_operator
    if operator is None:
        return
    names: dict[tuple[str, str], int] = {}
    for i, pg in enumerate(operator.clusters):
        loc: Loc = ("addons", "postgresOperator", "clusters", i)
        key = (pg.namespace, pg.name)
        if key in names:
            yield _err((*loc, "name"), f"{quote(pg.name)} is already used by clusters[{names[key]}] in {pg.namespace}")
        names.setdefault(key, i)
        if pg.storage_class is None and not defaults:
            yield _err(
                (*loc, "storageClass"),
                "no default StorageClass: set storage.localPath or storage.nfs default: true, or a storageClass",
            )


def _workers(spec: ClusterSpec, ok: Known) -> Iterator[Problem]:
    if _roles_known(spec, ok) and not spec.workers and len(spec.nodes) > 0 and spec.control_planes:
        yield _warn(("nodes",), "no worker nodes: control planes will run workloads (their taint is removed)")


RULES: tuple[Rule, ...] = (_duplicates, _control_planes, networks.endpoint, networks.overlaps, networks.families,
                           networks.sizes, _versions, _storage, _workers)


def check(spec: ClusterSpec | None, known: Known | None = None, base_dir: Path | None = None) -> list[Problem]:
    """Every cross-field problem, and with base_dir every problem of the files the spec points at.

    On a partial spec (known given) a rule that trips over a gap is skipped: its findings would be
    guesses, and the field errors are reported already."""
    if spec is None:
        return []
    rules = list(RULES)
    if base_dir is not None:
        rules.append(lambda s, k: files.check(s, k, base_dir))
    if known is None:
        return [problem for rule in rules for problem in rule(spec, Known())]
    if not known.present("nodes"):
        spec = spec.model_copy(update={"nodes": []})
    problems: list[Problem] = []
    for rule in rules:
        try:
            problems.extend(rule(spec, known))
        except (AttributeError, TypeError, ValueError):
            log.debug("rule %s skipped on a partial spec", getattr(rule, "__name__", rule), exc_info=True)
    return problems
