"""Preflight against real lab machines over real SSH (podman systemd containers on 127.0.0.1).

Read-only checks use the shared lab3; tests that change a machine (machine-id, stopped machine,
new host keys) use a lab of their own and put the machine back as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from homelab_ctl import preflight
from homelab_ctl.errors import ExitCode
from homelab_ctl.facts import HostFacts, Unreachable
from homelab_ctl.lab import machines, podman
from homelab_ctl.lab.model import Lab
from homelab_ctl.spec import Loaded, load

pytestmark = pytest.mark.lab

EXE = shutil.which("homelab-ctl", path=str(Path(sys.executable).parent)) or "homelab-ctl"


def spec_in(directory: Path, lab: Lab, **ssh: str) -> Loaded:
    """The lab's spec copied into directory (its own state dir), with spec.ssh overrides."""
    data: dict[str, Any] = yaml.safe_load(lab.spec_path.read_text())
    data["spec"]["ssh"].update(ssh)
    path = directory / "cluster.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load(path)


def cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "XDG_STATE_HOME": str(home)}
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, check=False, timeout=120)


def sh(machine: str, command: str) -> str:
    return podman.run(["exec", machine, "sh", "-c", command]).stdout


def errors(report: preflight.Report) -> list[tuple[str, str]]:
    return [(f.host, f.check) for f in report.errors]


@pytest.fixture(scope="module")
def own_lab(make_lab: Callable[..., Lab]) -> Lab:
    """Three machines this module may change (each test restores what it changed)."""
    return make_lab(control_planes=3, workers=0)


# -- the shared lab, read-only ----------------------------------------------------------------------


def test_clean_lab_passes_and_records_identity(lab3: Lab, tmp_path: Path) -> None:
    loaded = spec_in(tmp_path, lab3)
    report = preflight.run(loaded)
    assert report.errors == [], report.errors
    assert report.exit_code == ExitCode.OK
    assert set(report.facts) == {m.name for m in lab3.machines}
    for f in report.facts.values():
        assert (f.os_id, f.os_version_id, f.arch, f.sudo) == ("debian", "12", "amd64", "root")
        assert f.product_uuid is None and f.machine_id  # containers: machine-id is the identity
        assert f.address_on_host and f.clock_offset_s is not None and abs(f.clock_offset_s) < 1
    assert {f.check for f in report.warnings} <= {"cgroup"}  # the lab host's cgroup v1
    print(f"\npreflight of 3 lab machines: {report.seconds:.2f} s")
    assert report.seconds < 5
    folder = tmp_path / ".homelab-ctl" / lab3.name / "identity"
    assert sorted(report.recorded) == sorted(m.name for m in lab3.machines)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{m.name}.json" for m in lab3.machines)
    assert preflight.run(loaded).recorded == []  # same machines: nothing to rewrite


def test_cli_on_clean_lab(lab3: Lab, tmp_path: Path) -> None:
    loaded = spec_in(tmp_path, lab3)
    result = cli("preflight", "-f", str(loaded.path), "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] and data["exitCode"] == 0 and data["counts"]["error"] == 0
    assert all(h["reachable"] for h in data["hosts"].values()) and len(data["hosts"]) == 3
    result = cli("preflight", "-f", str(loaded.path), home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert all(m.name in result.stdout for m in lab3.machines)
    assert "3/3 machines checked" in result.stdout and "0 errors" in result.stdout


def test_session_reuses_one_connection_per_host(lab3: Lab, tmp_path: Path) -> None:
    from homelab_ctl.facts import Session

    with Session(spec_in(tmp_path, lab3)) as session:
        first = session.gather()
        conns = dict(session.connections)
        second = session.gather()
        assert session.connections == conns  # the same Connection objects, not new ones
        assert conns[lab3.machines[0].name].run("hostname").stdout.decode().strip() == lab3.machines[0].name
    assert all(isinstance(r, HostFacts) for r in [*first.values(), *second.values()])


# -- a lab of its own: duplicate identity, stopped machine, keys ------------------------------------


def test_two_machines_sharing_a_machine_id(own_lab: Lab, tmp_path: Path) -> None:
    cp1, cp2, _ = (m.name for m in own_lab.machines)
    original = sh(cp2, "cat /etc/machine-id").strip()
    shared = sh(cp1, "cat /etc/machine-id").strip()
    try:
        sh(cp2, f"echo {shared} > /etc/machine-id")
        report = preflight.run(spec_in(tmp_path, own_lab))
    finally:
        sh(cp2, f"echo {original} > /etc/machine-id")
    assert errors(report) == [(cp1, "identity.duplicate-machine-id"), (cp2, "identity.duplicate-machine-id")]
    assert report.exit_code == ExitCode.PREFLIGHT
    detail = next(f.detail for f in report.errors if f.host == cp1)
    assert shared in detail and cp2 in detail
    assert cp1 not in report.recorded and cp2 not in report.recorded


def test_machine_changed_since_recorded(own_lab: Lab, tmp_path: Path) -> None:
    cp2 = own_lab.machines[1].name
    loaded = spec_in(tmp_path, own_lab)
    assert preflight.run(loaded).ok  # records the identity
    original = sh(cp2, "cat /etc/machine-id").strip()
    try:
        sh(cp2, "echo 0123456789abcdef0123456789abcdef > /etc/machine-id")
        report = preflight.run(loaded)
    finally:
        sh(cp2, f"echo {original} > /etc/machine-id")
    (finding,) = report.errors
    assert (finding.host, finding.check) == (cp2, "identity.changed")
    assert f"{cp2} is a different machine or was reinstalled: machine-id was {original}" in finding.detail
    assert f"identity/{cp2}.json" in (finding.fix or "")
    assert preflight.run(loaded).ok  # back as recorded


def test_stopped_machine_is_unreachable_and_the_others_are_checked(own_lab: Lab, tmp_path: Path) -> None:
    stopped = own_lab.machines[2]
    loaded = spec_in(tmp_path, own_lab)
    machines.stop(own_lab, stopped, timeout=0)
    try:
        report = preflight.run(loaded)
        result = cli("preflight", "-f", str(loaded.path), home=tmp_path)
    finally:
        machines.start(own_lab, stopped)
    down = report.results[stopped.name]
    assert isinstance(down, Unreachable) and down.reason in ("refused", "timeout")
    assert errors(report) == [(stopped.name, "ssh")]
    assert "unreachable" in report.errors[0].detail and str(stopped.ssh_port) in report.errors[0].detail
    for m in own_lab.machines[:2]:
        assert isinstance(report.results[m.name], HostFacts)
        assert {f.check for f in report.for_host(m.name)} >= {"os", "cpu", "memory", "clock", "identity"}
    assert report.exit_code == ExitCode.CONNECTION
    assert result.returncode == ExitCode.CONNECTION, result.stderr
    assert "unreachable" in result.stdout and "2/3 machines checked" in result.stdout


def test_wrong_key_is_an_auth_failure_without_key_material(own_lab: Lab, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True)
    loaded = spec_in(tmp_path, own_lab, privateKeyFile=str(wrong))
    report = preflight.run(loaded)
    assert {r.reason for r in report.unreachable.values()} == {"auth"}
    assert len(report.unreachable) == 3 and report.exit_code == ExitCode.CONNECTION
    finding = report.errors[0]
    assert "authentication" in finding.detail and str(wrong) in finding.detail
    assert "ssh-copy-id" in (finding.fix or "")
    result = cli("--debug", "preflight", "-f", str(loaded.path), "--json", home=tmp_path)
    table = cli("preflight", "-f", str(loaded.path), home=tmp_path)
    assert result.returncode == table.returncode == ExitCode.CONNECTION
    log = (tmp_path / "homelab-ctl" / "homelab-ctl.log").read_text()
    secret_lines = [x for x in wrong.read_text().splitlines() if x and "-----" not in x]
    public = wrong.with_suffix(".pub").read_text().split()[1]
    outputs = [json.dumps([f.to_dict() for f in report.findings]), result.stdout, result.stderr,
               table.stdout, table.stderr, log]
    for text in outputs:
        assert "PRIVATE KEY" not in text and public not in text
        assert not any(line in text for line in secret_lines)
        assert public[-24:] not in text and not any(line[:24] in text for line in secret_lines)


def test_unknown_host_key_refused_then_recorded_with_accept(own_lab: Lab, tmp_path: Path) -> None:
    known = tmp_path / "ssh" / "known_hosts"
    loaded = spec_in(tmp_path, own_lab, knownHostsFile=str(known))
    report = preflight.run(loaded)
    assert {r.reason for r in report.unreachable.values()} == {"host-key-unknown"}
    assert "--accept-new-host-keys" in (report.errors[0].fix or "") and "SHA256:" in report.errors[0].detail
    assert not known.exists()  # nothing written without the flag

    report = preflight.run(loaded, accept_new_host_keys=True)
    assert report.ok, report.errors
    assert sorted(report.host_keys_recorded) == sorted(m.name for m in own_lab.machines)
    lines = known.read_text().splitlines()
    assert len(lines) == 3 and all(line.startswith("|1|") for line in lines)  # hashed, OpenSSH format

    import paramiko

    machine = own_lab.machines[0]
    name = f"[127.0.0.1]:{machine.ssh_port}"
    entry = paramiko.HostKeys(str(known)).lookup(name)  # paramiko looks hosts up as [host]:port
    facts = report.facts[machine.name]
    assert entry is not None and facts.host_key.type in entry
    found = subprocess.run(["ssh-keygen", "-F", name, "-f", str(known)], capture_output=True, text=True,
                           check=False)
    assert found.returncode == 0
    # OpenSSH itself accepts the recorded key with strict checking (to 127.0.0.1 only).
    ssh = subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                          "-o", f"UserKnownHostsFile={known}", "-o", "GlobalKnownHostsFile=/dev/null",
                          "-i", str(own_lab.key_path), "-p", str(machine.ssh_port), "root@127.0.0.1", "hostname"],
                         capture_output=True, text=True, timeout=30, check=False)
    assert ssh.returncode == 0 and ssh.stdout.strip() == machine.name, ssh.stderr

    again = preflight.run(loaded)  # known now: no flag needed, nothing added
    assert again.ok and again.host_keys_recorded == [] and len(known.read_text().splitlines()) == 3


@pytest.fixture
def regenerated_host_keys(own_lab: Lab) -> Iterator[str]:
    """Machine cp1 with new SSH host keys (like a reinstall); its old keys are put back afterwards."""
    name = own_lab.machines[0].name
    sh(name, "mkdir -p /root/hostkeys.bak && cp -a /etc/ssh/ssh_host_* /root/hostkeys.bak/")
    try:
        sh(name, "rm /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh")
        yield name
    finally:
        sh(name, "rm -f /etc/ssh/ssh_host_* && cp -a /root/hostkeys.bak/* /etc/ssh/ && systemctl restart ssh")


def test_changed_host_key_is_an_error_naming_the_node(own_lab: Lab, tmp_path: Path,
                                                      regenerated_host_keys: str) -> None:
    known = tmp_path / "known_hosts"
    shutil.copy(own_lab.known_hosts_path, known)
    loaded = spec_in(tmp_path, own_lab, knownHostsFile=str(known))
    report = preflight.run(loaded, accept_new_host_keys=True)  # never accepts a CHANGED key
    node = regenerated_host_keys
    assert errors(report) == [(node, "ssh")]
    result = report.results[node]
    assert isinstance(result, Unreachable) and result.reason == "host-key-changed"
    detail, fix = report.errors[0].detail, report.errors[0].fix or ""
    assert detail.startswith(f"unreachable (host key CHANGED): {node}: the host key of")
    assert "reinstalled or replaced" in detail
    port = own_lab.machines[0].ssh_port
    assert f"ssh-keygen -R '[127.0.0.1]:{port}' -f {known}" in fix
    assert len(report.facts) == 2  # the others were checked

    # The fix the message gives: remove the old key, accept the new one.
    subprocess.run(["ssh-keygen", "-R", f"[127.0.0.1]:{port}", "-f", str(known)], capture_output=True, check=True)
    assert preflight.run(loaded).results[node].reason == "host-key-unknown"  # type: ignore[union-attr]
    report = preflight.run(loaded, accept_new_host_keys=True)
    assert report.ok and report.host_keys_recorded == [node]
