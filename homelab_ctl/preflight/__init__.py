"""Preflight: gather facts from every node over SSH, check them, record each node's identity.

    report = homelab_ctl.preflight.run(loaded)      # Report: findings + facts per node
    report.raise_for_errors()                       # what `up` does before touching anything

The checks themselves are pure (preflight.checks.evaluate) and tested from recorded facts.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from homelab_ctl.facts import Session
from homelab_ctl.facts.gather import OnResult, Result
from homelab_ctl.facts.models import HostFacts
from homelab_ctl.preflight import checks, identity
from homelab_ctl.preflight.findings import Finding, Report, Severity
from homelab_ctl.spec import Loaded
from homelab_ctl.state import state_dir

__all__ = ["Finding", "Report", "Severity", "run"]

log = logging.getLogger(__name__)


def run(loaded: Loaded, *, accept_new_host_keys: bool = False, on_result: OnResult | None = None,
        session: Session | None = None, record: bool = True) -> Report:
    """Probe every node, evaluate the checks and (record=True) save the identity of every node
    that passed its identity checks. A session passed in is used and left open (for `up`)."""
    started = time.monotonic()
    own = session is None
    current = session or Session(loaded, accept_new_host_keys=accept_new_host_keys)
    try:
        results = current.gather(on_result)
        new_keys = current.recorded_host_keys()
    finally:
        if own:
            current.close()
    state = state_dir(loaded)
    recorded = identity.load_all(state)
    findings = checks.evaluate(loaded.cluster, results, recorded, identity_dir=str(identity.directory(state)))
    for node in new_keys:
        facts = results[node]
        if isinstance(facts, HostFacts):
            target = next(t for t in current.targets if t.node == node)
            findings.append(Finding(node, "ssh", "ok", f"new host key {facts.host_key.type} "
                                    f"{facts.host_key.sha256} recorded in {target.known_hosts}"))
    saved = _record(state, results, findings, recorded) if record else []
    return Report(findings=findings, results=results, seconds=time.monotonic() - started, recorded=saved,
                  host_keys_recorded=new_keys)


def _record(state: Path, results: dict[str, Result], findings: list[Finding],
            recorded: dict[str, identity.Recorded]) -> list[str]:
    saved = []
    failed = {f.host for f in findings if f.is_identity and f.severity == "error"}
    for node, result in results.items():
        if not isinstance(result, HostFacts) or node in failed:
            continue
        record = identity.from_facts(result)
        if node in recorded and identity.same(recorded[node], record):
            continue
        path = identity.save(state, record)
        log.info("%s: identity recorded in %s", node, path)
        saved.append(node)
    return saved
