"""A VM lab for real: 2 qemu VMs (1 control plane + 1 worker) reached by Ansible over SSH on
127.0.0.1, a stop and start of one VM, and `lab down` leaving no process, file or device behind.

Slow under software emulation (about 6 minutes): runs only with HOMELAB_VM=1 or HOMELAB_MOLECULE_VM=1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from homelab_ctl.errors import LabError
from homelab_ctl.lab import drivers, qemu, vm, vmimage, vmnet
from homelab_ctl.lab.model import bridge_name
from homelab_ctl.spec import load
from tests.integration.conftest import unique_name

pytestmark = [
    pytest.mark.vm,
    pytest.mark.skipif(os.environ.get("HOMELAB_VM") != "1" and os.environ.get("HOMELAB_MOLECULE_VM") != "1",
                       reason="VM labs are slow here (software emulation): set HOMELAB_VM=1"),
]
BIN = Path(sys.executable).parent
EXE = shutil.which("homelab-ctl", path=str(BIN)) or "homelab-ctl"


def run(*args: str, cwd: Path | None = None, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "XDG_STATE_HOME": "/tmp", "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run([*args], capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=timeout)


def qemu_processes_of(directory: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "qemu-system" in cmdline and str(directory) in cmdline:
            found.append(f"{proc.name}: {cmdline[:120]}")
    return found


def test_two_vm_lab_ansible_ping_and_down_leaves_nothing(tmp_path: Path) -> None:
    name, directory = unique_name("vmt"), tmp_path / "lab"
    try:
        up = run(EXE, "lab", "up", "--driver", "vm", "--name", name, "--control-planes", "1", "--workers", "1",
                 "--dir", str(directory))
        assert up.returncode == 0, up.stdout + up.stderr
        assert "booted in" in up.stdout and "qemu RSS" in up.stdout
        lab = vm.get(name)
        assert [m.state for m in lab.machines] == ["running", "running"]
        spec = load(directory / "cluster.yaml").cluster.spec
        assert [n.address for n in spec.nodes] == [m.ip for m in lab.machines]
        assert all(m.ip.startswith(lab.subnet.rsplit(".", 1)[0]) for m in lab.machines)

        status = run(EXE, "lab", "status", "--name", name)
        assert status.returncode == 0, status.stderr
        rows = {line.split()[0]: line.split() for line in status.stdout.splitlines()[2:] if line.strip()}
        for m in lab.machines:
            assert rows[m.name][1:] == [m.role, "running", m.ip, f"127.0.0.1:{m.ssh_port}"]

        inventory = tmp_path / "inventory"
        rendered = run(EXE, "render", "-f", str(directory / "cluster.yaml"), "-o", str(inventory))
        assert rendered.returncode == 0, rendered.stderr
        ping = run(str(BIN / "ansible"), "-i", str(inventory), "all", "-m", "ping", cwd=tmp_path)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        for m in lab.machines:
            assert f"{m.name} | SUCCESS" in ping.stdout

        # the private network: the control plane reaches the worker's sshd by name over the lab network
        cp1, w1 = lab.machines
        reach = run(str(BIN / "ansible"), "-i", str(inventory), cp1.name, "-m", "command", "-a",
                    f"python3 -c \"import socket; s = socket.create_connection(('{w1.name}', 22), 10); "
                    "print(s.getpeername()[0], s.recv(4))\"", cwd=tmp_path)
        assert reach.returncode == 0 and f"{w1.ip} b'SSH-'" in reach.stdout, reach.stdout + reach.stderr

        stop = run(EXE, "lab", "stop", "--name", name, "--kill", "w1")
        assert stop.returncode == 0 and f"{w1.name}: exited" in stop.stdout, stop.stdout + stop.stderr
        start = run(EXE, "lab", "start", "--name", name, "w1")
        assert start.returncode == 0, start.stdout + start.stderr
        assert f"{w1.name}: running, SSH 127.0.0.1:{w1.ssh_port}" in start.stdout
    finally:
        down = run(EXE, "lab", "down", "--name", name)
    assert down.returncode == 0, down.stderr
    assert f"lab {name} removed" in down.stdout
    assert qemu_processes_of(directory) == []
    assert not directory.exists()
    assert vmnet.devices_with_prefix(bridge_name(name)) == []
    assert drivers.recorded(name) is None
    # the cache keeps the base image only (overlays lived in the lab directory)
    assert sorted(p.name for p in vmimage.current().directory.iterdir()) == ["base.qcow2", "initrd.img", "vmlinuz"]
    again = run(EXE, "lab", "down", "--name", name)
    assert (again.returncode, again.stdout.strip()) == (0, f"no lab named {name}: nothing to remove")


def test_failed_up_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after the disks, taps and bridge exist (here: qemu refusing to start) undoes them."""

    def broken(config: qemu.VmConfig, fw_cfg_name: str) -> int:
        assert config.disk.is_file() and vmnet.exists(config.tap)
        raise LabError("injected failure")

    monkeypatch.setattr(qemu, "start", broken)
    name, directory = unique_name("vmt"), tmp_path / "lab"
    try:
        with pytest.raises(LabError, match="injected failure"):
            vm.up(name, 1, 1, directory)
        assert not directory.exists()
        assert vmnet.devices_with_prefix(bridge_name(name)) == []
        assert not vm.exists(name) and drivers.recorded(name) is None
    finally:
        vm.down(name)
