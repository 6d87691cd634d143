"""The lab for real: podman machines with systemd, reached by Ansible and paramiko over SSH on
127.0.0.1 with the lab's own key and known_hosts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from homelab_ctl.errors import ExitCode, LabError
from homelab_ctl.lab import machines, podman, ports, specfile
from homelab_ctl.lab.model import LABEL, Lab
from homelab_ctl.spec import load
from tests.integration.conftest import MakeLab, unique_name

pytestmark = pytest.mark.lab
BIN = Path(sys.executable).parent
EXE = shutil.which("homelab-ctl", path=str(BIN)) or "homelab-ctl"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "XDG_STATE_HOME": "/tmp", "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run([*args], capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=300)


def test_spec_is_valid(lab3: Lab) -> None:
    loaded = load(lab3.spec_path)
    spec = loaded.cluster.spec
    assert [n.name for n in spec.nodes] == [m.name for m in lab3.machines]
    assert [n.address for n in spec.nodes] == [m.ip for m in lab3.machines]
    assert spec.kubernetes.control_plane_endpoint is not None
    assert spec.kubernetes.control_plane_endpoint.vip == lab3.vip
    assert run(EXE, "validate", "-f", str(lab3.spec_path)).returncode == 0
    # Each machine has its own host keys, all recorded under its own port.
    lines = lab3.known_hosts_path.read_text().splitlines()
    for m in lab3.machines:
        assert sum(line.startswith(f"[127.0.0.1]:{m.ssh_port} ") for line in lines) == 3
    assert len({line.split()[2] for line in lines}) == len(lines)
    # Published outside the kernel's ephemeral range: a port 0 bind elsewhere never lands on one.
    low, high = ports.ephemeral_range()
    assert len({m.ssh_port for m in lab3.machines}) == 3
    assert not any(low <= m.ssh_port <= high for m in lab3.machines)


def test_ansible_reaches_every_machine(lab3: Lab, tmp_path: Path) -> None:
    inventory = tmp_path / "inventory"
    rendered = run(EXE, "render", "-f", str(lab3.spec_path), "-o", str(inventory))
    assert rendered.returncode == 0, rendered.stderr
    result = run(str(BIN / "ansible"), "-i", str(inventory), "all", "-m", "ping", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for m in lab3.machines:
        assert f"{m.name} | SUCCESS" in result.stdout


def test_machines_resolve_each_other_by_name(lab3: Lab) -> None:
    first, last = lab3.machines[0], lab3.machines[-1]
    out = podman.run(["exec", first.name, "getent", "hosts", last.name]).stdout
    assert out.split()[0] == last.ip


def test_status(lab3: Lab) -> None:
    result = run(EXE, "lab", "status", "--name", lab3.name)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[2:] if line.strip()}
    for m in lab3.machines:
        assert rows[m.name][1:] == [m.role, "running", m.ip, f"127.0.0.1:{m.ssh_port}"]


def test_up_of_an_existing_name_fails_clearly(lab3: Lab, tmp_path: Path) -> None:
    result = run(EXE, "lab", "up", "--name", lab3.name, "--dir", str(tmp_path / "again"))
    assert result.returncode == ExitCode.LAB
    assert result.stderr.splitlines() == [
        f"error lab {lab3.name} already exists: see `homelab-ctl lab status --name {lab3.name}`, "
        f"remove it with `homelab-ctl lab down --name {lab3.name}`, or choose another --name"]
    assert not (tmp_path / "again").exists()
    assert {m.state for m in machines.get(lab3.name).machines} == {"running"}


def test_stop_and_start_one_machine(lab3: Lab) -> None:
    target = lab3.machines[-1]
    stopped = machines.stop(lab3, target.name, timeout=0)
    try:
        assert stopped.state == "exited"
        assert machines.get(lab3.name).machine(target.name).state == "exited"
    finally:
        started = machines.start(lab3, target)  # waits for SSH with the recorded host keys
    assert (started.state, started.ssh_port, started.ip) == ("running", target.ssh_port, target.ip)


def test_failed_up_leaves_nothing(lab_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(lab: Lab, mirror: Path | None = None) -> None:
        raise LabError("injected failure")

    monkeypatch.setattr(specfile, "write", broken)
    name, directory = unique_name(), tmp_path / "lab"
    try:
        with pytest.raises(LabError, match="injected failure"):
            machines.up(name, 1, 1, directory)
        leftovers = podman.json_out(["ps", "-a", "--filter", f"label={LABEL}={name}", "--format", "json"])
        assert leftovers == []
        assert podman.run(["volume", "ls", "-q", "--filter", f"label={LABEL}={name}"]).stdout.split() == []
        assert not podman.exists("network", f"{name}-net")
        assert not directory.exists()
        assert not machines.exists(name)
    finally:
        machines.down(name)


def test_cli_up_and_down(lab_image: str, tmp_path: Path) -> None:
    name, directory = unique_name(), tmp_path / "lab"
    try:
        up = run(EXE, "lab", "up", "--name", name, "--control-planes", "1", "--workers", "1", "--dir", str(directory))
        assert up.returncode == 0, up.stderr
        assert f"homelab-ctl validate -f {directory / 'cluster.yaml'}" in up.stdout
        assert load(directory / "cluster.yaml").cluster.name == name
    finally:
        down = run(EXE, "lab", "down", "--name", name)
    assert down.returncode == 0, down.stderr
    assert f"lab {name} removed" in down.stdout
    assert not directory.exists()
    assert not machines.exists(name)
    again = run(EXE, "lab", "down", "--name", name)
    assert (again.returncode, again.stdout.strip()) == (0, f"no lab named {name}: nothing to remove")


def test_down_of_another_lab_leaves_lab3_alone(lab3: Lab, make_lab: MakeLab) -> None:
    other = make_lab()
    assert machines.down(other.name)
    assert {m.state for m in machines.get(lab3.name).machines} == {"running"}
    assert lab3.spec_path.is_file()


def test_machines_can_run_a_real_kubelet_and_containerd(lab3: Lab) -> None:
    """What a real kubelet needs: /var on a volume (not overlay), its own cgroup tree, /dev/kmsg, / shared."""
    name = lab3.machines[0].name
    fstype = podman.run(["exec", name, "stat", "-f", "-c", "%T", "/var"]).stdout.strip()
    assert fstype not in ("overlayfs", "overlay"), fstype
    assert podman.run(["exec", name, "test", "-c", "/dev/kmsg"], check=False).returncode == 0
    # private cgroup namespace: the machine's own cgroup is its root (on the host it is libpod-<id>)
    cgroup = podman.run(["exec", name, "cat", "/proc/self/cgroup"]).stdout
    assert ":cpu:/\n" in cgroup + "\n" and "libpod" not in cgroup, cgroup
    propagation = podman.run(["exec", name, "findmnt", "-no", "PROPAGATION", "/"]).stdout
    assert "shared" in propagation


def test_add_a_worker(make_lab: MakeLab) -> None:
    lab = make_lab(control_planes=1, workers=0)
    added = machines.add(lab.name, "worker")
    assert added.name == f"{lab.name}-w1" and added.state == "running"
    assert [n.name for n in load(lab.spec_path).cluster.spec.nodes] == [lab.machines[0].name, added.name]
    first = lab.machines[0].name
    assert podman.run(["exec", first, "getent", "hosts", added.name]).stdout.split()[0] == added.ip
    assert podman.run(["exec", added.name, "getent", "hosts", first]).stdout.split()[0] == lab.machines[0].ip
    ssh = run("ssh", "-i", str(lab.key_path), "-o", f"UserKnownHostsFile={lab.known_hosts_path}",
              "-o", "StrictHostKeyChecking=yes", "-p", str(added.ssh_port), "root@127.0.0.1", "true")
    assert ssh.returncode == 0, ssh.stderr
