"""Recorded identity: saved after a good run, compared on the next ("cp2's board changed")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from homelab_ctl import preflight
from homelab_ctl.errors import ConnectionFailed, ExitCode, PreflightFailed
from homelab_ctl.facts.models import HostFacts, HostKey, Unreachable
from homelab_ctl.facts.ssh import Target
from homelab_ctl.preflight import checks, identity
from homelab_ctl.preflight.findings import Finding, Report
from homelab_ctl.spec import load

from .common import FACTS, facts, lab, metal


def test_changed_board_machine_id_macs_and_host_key() -> None:
    spec, results = metal()
    rec = {n: identity.from_facts(f) for n, f in results.items()}
    cp2 = results["cp2"]
    board = cp2.model_copy(update={"product_uuid": "99999999-1b2c-11ec-8000-1c697a0a1102",
                                   "machine_id": "b" * 32})
    found = checks.evaluate(spec, {**results, "cp2": board}, rec, identity_dir="/s/identity")
    (err,) = [f for f in found if f.severity == "error"]
    assert (err.host, err.check) == ("cp2", "identity.changed")
    assert err.detail.startswith("cp2's board changed: product_uuid was 88f5a3c0-1b2c-11ec-8000-1c697a0a1102")
    assert err.fix == "if cp2 was replaced on purpose: rm /s/identity/cp2.json, then re-run"

    reinstalled = cp2.model_copy(update={"machine_id": "b" * 32})
    (err,) = [f for f in checks.evaluate(spec, {**results, "cp2": reinstalled}, rec) if f.severity == "error"]
    assert "cp2 was reinstalled (same board, new machine-id)" in err.detail

    from homelab_ctl.facts.models import Interface

    nic = cp2.model_copy(update={"interfaces": [Interface(name="eno1", mac="1c:69:7a:0a:99:99",
                                                          addresses=["192.168.10.12/24"])]})
    (warn,) = [f for f in checks.evaluate(spec, {**results, "cp2": nic}, rec) if f.host == "cp2"
               and f.severity != "ok"]
    assert warn.check == "identity.changed-mac" and "1c:69:7a:0a:11:02 gone, 1c:69:7a:0a:99:99 new" in warn.detail

    key = cp2.model_copy(update={"host_key": HostKey(type="ssh-ed25519", sha256="SHA256:new")})
    (warn,) = [f for f in checks.evaluate(spec, {**results, "cp2": key}, rec) if f.host == "cp2"
               and f.severity != "ok"]
    assert warn.check == "identity.changed-host-key" and "SHA256:new" in warn.detail
    ok = [f for f in checks.evaluate(spec, results, rec) if f.check == "identity"]
    assert all(f.severity == "ok" and f.detail.endswith("as recorded") for f in ok)


def test_without_product_uuid_the_machine_id_is_the_identity() -> None:
    spec, results = lab()
    rec = {n: identity.from_facts(f) for n, f in results.items()}
    assert rec["lab-cp1"].product_uuid is None and rec["lab-cp1"].macs  # default-route NIC recorded
    other = results["lab-cp1"].model_copy(update={"machine_id": "c" * 32})
    (err,) = [f for f in checks.evaluate(spec, {**results, "lab-cp1": other}, rec) if f.severity == "error"]
    assert "lab-cp1 is a different machine or was reinstalled: machine-id was" in err.detail


def test_save_and_load(tmp_path: Path) -> None:
    rec = identity.from_facts(facts("metal-cp1"))
    path = identity.save(tmp_path, rec)
    assert path == tmp_path / "identity" / "cp1.json"
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    data = json.loads(path.read_text())
    assert data["product_uuid"] == "88f5a3c0-1b2c-11ec-8000-1c697a0a1101" and data["macs"] == ["1c:69:7a:0a:11:01"]
    assert data["host_key"]["sha256"].startswith("SHA256:")
    (tmp_path / "identity" / "broken.json").write_text("{not json")
    loaded = identity.load_all(tmp_path)
    assert list(loaded) == ["cp1"] and identity.same(loaded["cp1"], rec)
    assert identity.load_all(tmp_path / "none") == {}


def test_report_exit_codes_and_raise() -> None:
    ok = Finding("a", "os", "ok", "fine")
    down = Finding("b", "ssh", "error", "unreachable (timed out): ...", "is it on?")
    bad = Finding("a", "identity.duplicate-machine-id", "error", "machine-id x is also b's", "fix it")
    assert Report([ok], {}).exit_code == ExitCode.OK
    Report([ok, Finding("a", "swap", "warning", "on")], {}).raise_for_errors()  # warnings pass
    assert Report([ok, down], {}).exit_code == ExitCode.CONNECTION
    assert Report([ok, down, bad], {}).exit_code == ExitCode.PREFLIGHT
    with pytest.raises(ConnectionFailed, match="1 error on b"):
        Report([ok, down], {}).raise_for_errors()
    with pytest.raises(PreflightFailed) as exc:
        Report([bad, down], {}).raise_for_errors()
    assert exc.value.hint == "fix it" and "a, b" in exc.value.message


def test_report_json() -> None:
    spec, results = lab()
    down = Unreachable(node="lab-cp3", target="root@127.0.0.1:1", reason="timeout", message="no answer")
    res: dict[str, HostFacts | Unreachable] = {**results, "lab-cp3": down}
    report = Report(checks.evaluate(spec, res), res, seconds=0.5)
    data = json.loads(json.dumps(report.to_json()))
    assert data["ok"] is False and data["exitCode"] == 3
    assert data["counts"]["error"] == 1
    assert data["hosts"]["lab-cp3"] == {"reachable": False, "target": "root@127.0.0.1:1", "reason": "timeout",
                                        "message": "no answer"}
    cp1 = data["hosts"]["lab-cp1"]
    assert cp1["reachable"] and cp1["productUuid"] is None and cp1["machineId"] and cp1["os"].startswith("Debian")
    assert {"host", "check", "severity", "detail", "fix"} == set(data["findings"][0])


class FakeSession:
    """Stands in for facts.Session: returns recorded facts instead of connecting."""

    def __init__(self, results: dict[str, HostFacts | Unreachable], new_keys: list[str] | None = None) -> None:
        self.results = results
        self.new_keys = new_keys or []
        self.targets = [Target(n, "", "127.0.0.1", 22, "root", None, Path("/kh")) for n in results]

    def gather(self, on_result: Any = None) -> dict[str, HostFacts | Unreachable]:
        for r in self.results.values():
            if on_result:
                on_result(r)
        return self.results

    def recorded_host_keys(self) -> list[str]:
        return self.new_keys

    def close(self) -> None:
        pass


def test_run_records_identity_then_reports_what_changed(tmp_path: Path) -> None:
    spec_text = "\n".join([
        "apiVersion: homelab-ctl/v1alpha1", "kind: Cluster", "metadata: {name: home}", "spec:",
        "  kubernetes: {controlPlaneEndpoint: {vip: 10.90.1.200}, failCgroupV1: false}", "  nodes:",
        *[f"    - {{name: lab-cp{i}, address: 10.90.1.1{i}, roles: [control-plane]}}" for i in (1, 2, 3)],
    ]) + "\n"
    (tmp_path / "cluster.yaml").write_text(spec_text)
    loaded = load(tmp_path / "cluster.yaml")
    results: dict[str, HostFacts | Unreachable] = {n: facts(n) for n in ("lab-cp1", "lab-cp2", "lab-cp3")}
    seen: list[str] = []
    report = preflight.run(loaded, session=FakeSession(results, ["lab-cp1"]),  # type: ignore[arg-type]
                           on_result=lambda r: seen.append(r.node))
    assert report.ok and sorted(report.recorded) == ["lab-cp1", "lab-cp2", "lab-cp3"] and len(seen) == 3
    assert any(f.host == "lab-cp1" and "recorded in /kh" in f.detail for f in report.findings)
    folder = tmp_path / ".homelab-ctl" / "home" / "identity"
    assert sorted(p.name for p in folder.iterdir()) == ["lab-cp1.json", "lab-cp2.json", "lab-cp3.json"]

    # Nothing changed: nothing rewritten.
    assert preflight.run(loaded, session=FakeSession(results)).recorded == []  # type: ignore[arg-type]

    # cp2 cloned from cp1: both get identity errors, neither record is overwritten.
    clone = results["lab-cp2"].model_copy(update={"machine_id": facts("lab-cp1").machine_id})
    before = (folder / "lab-cp2.json").read_text()
    report = preflight.run(loaded, session=FakeSession({**results, "lab-cp2": clone}))  # type: ignore[arg-type]
    assert report.exit_code == ExitCode.PREFLIGHT
    assert {(f.host, f.check) for f in report.errors} == {
        ("lab-cp1", "identity.duplicate-machine-id"), ("lab-cp2", "identity.duplicate-machine-id"),
        ("lab-cp2", "identity.changed")}
    assert report.recorded == [] and (folder / "lab-cp2.json").read_text() == before


def test_fixtures_are_valid_facts() -> None:
    for path in FACTS.glob("*.json"):
        HostFacts.model_validate_json(path.read_text())
