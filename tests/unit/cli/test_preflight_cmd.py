"""homelab-ctl preflight without lab machines: a closed port on 127.0.0.1, and a stubbed run()."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from homelab_ctl.errors import ExitCode

EXE = shutil.which("homelab-ctl", path=str(Path(sys.executable).parent)) or "homelab-ctl"
FACTS = Path(__file__).resolve().parents[2] / "fixtures" / "facts"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spec(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(
        "apiVersion: homelab-ctl/v1alpha1\nkind: Cluster\nmetadata: {name: t}\nspec:\n"
        "  ssh: {knownHostsFile: known_hosts}\n"
        "  nodes:\n"
        f"  - {{name: cp1, address: 10.0.0.1, roles: [control-plane], ssh: {{host: 127.0.0.1, port: {port}}}}}\n")
    return path


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "XDG_STATE_HOME": str(tmp_path)}
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, check=False, timeout=60)


def test_help_documents_exit_codes(tmp_path: Path) -> None:
    result = run(tmp_path, "preflight", "--help")
    assert result.returncode == 0
    assert "--accept-new-host-keys" in result.stdout and "--json" in result.stdout
    assert "Exit codes" in result.stdout and "3 when the only errors" in result.stdout


def test_unreachable_machine_exits_3(tmp_path: Path) -> None:
    path = spec(tmp_path, closed_port())
    result = run(tmp_path, "preflight", "-f", str(path))
    assert result.returncode == ExitCode.CONNECTION, result.stderr
    assert "connection refused by 127.0.0.1" in result.stdout and "cp1" in result.stdout
    assert "error preflight: 1 error on cp1 (unreachable)" in result.stderr
    result = run(tmp_path, "preflight", "-f", str(path), "--json")
    assert result.returncode == ExitCode.CONNECTION
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["hosts"]["cp1"]["reason"] == "refused"
    assert data["findings"][0]["check"] == "ssh"


def test_table_groups_findings_by_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """run() stubbed with recorded facts: the table and the exit code of a preflight error."""
    from homelab_ctl import preflight
    from homelab_ctl.cli import cli
    from homelab_ctl.facts.models import HostFacts, Unreachable
    from homelab_ctl.preflight import checks
    from homelab_ctl.preflight.findings import Report

    a = HostFacts.model_validate_json((FACTS / "clone-a.json").read_text())
    b = HostFacts.model_validate_json((FACTS / "clone-b.json").read_text())
    path = tmp_path / "cluster.yaml"
    path.write_text("apiVersion: homelab-ctl/v1alpha1\nkind: Cluster\nmetadata: {name: t}\nspec:\n  nodes:\n"
                    f"  - {{name: vm1, address: {a.address}, roles: [control-plane]}}\n"
                    f"  - {{name: vm2, address: {b.address}, roles: [worker]}}\n")

    def fake_run(loaded, **kwargs):  # type: ignore[no-untyped-def]
        results: dict[str, HostFacts | Unreachable] = {"vm1": a, "vm2": b}
        return Report(checks.evaluate(loaded.cluster, results), results, seconds=0.1)

    monkeypatch.setattr(preflight, "run", fake_run)
    result = CliRunner().invoke(cli, ["preflight", "-f", str(path), "-q"], standalone_mode=False,
                                env={"COLUMNS": "200"})
    assert type(result.exception).__name__ == "PreflightFailed"
    assert result.exception.exit_code == ExitCode.PREFLIGHT  # type: ignore[union-attr]
    out = result.output
    assert out.index("vm1") < out.index("identity.duplicate-product-uuid") < out.index("vm2")
    assert "fix: a cloned VM" in out and " ok " not in out  # -q: problems only
    assert "2/2 machines checked" in out and "4 errors" in out
