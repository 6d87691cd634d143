"""The pure parts of VM labs: qemu's command line, the accelerator choice, the driver record, the
addresses and first-boot configuration of a VM, and the VM image's package list."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from homelab_ctl.errors import ExitCode, UsageError
from homelab_ctl.lab import drivers, qemu, specfile, vm, vmimage
from homelab_ctl.lab.model import Lab, bridge_name, plan, tap_name
from homelab_ctl.spec import parse
from tests.molecule.test_roles import selected

REPO = Path(__file__).resolve().parents[3]
EXE = str(Path(sys.executable).parent / "homelab-ctl")


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    shape = plan("vmt-unit", 3, 2, "10.91.4.0/24", tmp_path)
    return Lab(shape.name, tmp_path, shape.subnet, shape.vip,
               tuple(m.__class__(m.name, m.role, m.ip, 40000 + i) for i, m in enumerate(shape.machines)), driver="vm")


@pytest.fixture(autouse=True)
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "data"


def _config(lab: Lab, accel: str) -> qemu.VmConfig:
    return vm.vm_config(lab, lab.machines[0], accel, 1536, vmimage.VmImage(Path("/img")))


def _option(cmd: list[str], flag: str) -> list[str]:
    return [cmd[i + 1] for i, arg in enumerate(cmd) if arg == flag]


def test_qemu_command_kvm_and_tcg(lab: Lab) -> None:
    kvm, tcg = qemu.command(_config(lab, "kvm"), "opt/x"), qemu.command(_config(lab, "tcg"), "opt/x")
    assert _option(kvm, "-machine") == ["q35,accel=kvm"] and _option(kvm, "-cpu") == ["host"]
    assert _option(tcg, "-machine") == ["q35,accel=tcg"] and _option(tcg, "-cpu") == ["max"]
    assert _option(tcg, "-m") == ["1536"]
    # the TSC as clock source only under software emulation (KVM guests use kvm-clock)
    assert "tsc=reliable" in _option(tcg, "-append")[0].split()
    assert "tsc=reliable" not in _option(kvm, "-append")[0].split()


def test_qemu_command_networks_and_files(lab: Lab) -> None:
    config = _config(lab, "tcg")
    cmd = qemu.command(config, "opt/homelab-ctl/config")
    netdevs = _option(cmd, "-netdev")
    # SSH only, on 127.0.0.1, and the user network restricted: the guest reaches nothing through it
    assert netdevs[0] == "user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:40000-10.0.2.15:22"
    assert netdevs[1] == f"tap,id=lab,ifname={tap_name(lab.name, lab.machines[0])},script=no,downscript=no"
    assert _option(cmd, "-pidfile") == [str(config.machine_dir / "qemu.pid")]
    assert "-daemonize" in cmd and "-nodefaults" in cmd
    assert _option(cmd, "-fw_cfg") == [f"name=opt/homelab-ctl/config,file={config.machine_dir / 'config.json'}"]
    assert _option(cmd, "-kernel") == ["/img/vmlinuz"] and _option(cmd, "-initrd") == ["/img/initrd.img"]
    assert "console=ttyS0" in _option(cmd, "-append")[0]
    drives = _option(cmd, "-drive")
    assert drives[0].startswith(f"file={config.machine_dir / 'disk.qcow2'},if=virtio,format=qcow2")
    assert drives[1] == f"file={config.machine_dir / 'swap.img'},if=virtio,format=raw"


def test_qemu_command_forwards_the_api_of_a_control_plane(lab: Lab) -> None:
    config = vm.vm_config(lab, lab.machines[0], "tcg", 2048, vmimage.VmImage(Path("/img")), api_port=41000)
    assert _option(qemu.command(config, "opt/x"), "-netdev")[0] == (
        "user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:40000-10.0.2.15:22,hostfwd=tcp:127.0.0.1:41000-10.0.2.15:6443")


def test_qemu_command_refuses_an_unknown_accelerator(lab: Lab) -> None:
    with pytest.raises(ValueError):
        qemu.command(_config(lab, "hvf"), "opt/x")


def test_accel_override_and_bad_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qemu, "_probe", lambda kernel: pytest.fail("no probe when forced"))
    monkeypatch.setenv(qemu.ACCEL_ENV, "tcg")
    assert qemu.accel(Path("/k")) == "tcg"
    monkeypatch.setenv(qemu.ACCEL_ENV, "fast")
    with pytest.raises(UsageError, match="HOMELAB_VM_ACCEL=fast: use kvm or tcg"):
        qemu.accel(Path("/k"))


def test_accel_without_usable_dev_kvm_is_tcg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(qemu.ACCEL_ENV, raising=False)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    monkeypatch.setattr(qemu, "_probe", lambda kernel: pytest.fail("no probe without /dev/kvm"))
    assert qemu.accel(Path("/k")) == "tcg"


def test_accel_probes_once_per_host_boot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(qemu.ACCEL_ENV, raising=False)
    monkeypatch.setattr(os, "access", lambda path, mode: True)
    calls: list[Path] = []

    def probe(kernel: Path) -> bool:
        calls.append(kernel)
        return False  # nested KVM that hangs

    monkeypatch.setattr(qemu, "_probe", probe)
    assert qemu.accel(Path("/k")) == "tcg"
    assert qemu.accel(Path("/k")) == "tcg"
    assert calls == [Path("/k")]


def test_probe_output() -> None:
    assert qemu.probe_says_kvm_works("[ 0.9] Kernel panic - not syncing: VFS: Unable to mount root fs")
    assert not qemu.probe_says_kvm_works("")


def test_driver_record(tmp_path: Path) -> None:
    assert drivers.recorded("a") is None and drivers.of("a") == "podman"
    drivers.record("a", "vm", tmp_path / "a")
    assert drivers.recorded("a") == ("vm", tmp_path / "a")
    assert drivers.of("a") == "vm" and drivers.recorded_names() == ["a"]
    assert drivers.backend("vm") is vm
    drivers.forget("a")
    assert drivers.of("a") == "podman" and drivers.recorded_names() == []


def test_a_broken_driver_record_is_no_vm_lab(data_home: Path) -> None:
    folder = data_home / "homelab-ctl" / "labs" / ".drivers"
    folder.mkdir(parents=True)
    (folder / "b.json").write_text("{not json")
    (folder / "c.json").write_text(json.dumps({"driver": "podman", "directory": "/x"}))
    assert drivers.recorded("b") is None and drivers.recorded("c") is None


def test_device_names_fit_linux_limits() -> None:
    long = "a" * 40
    shape = plan(long, 9, 50, "10.91.0.0/24", Path())
    names = {tap_name(long, m) for m in shape.machines}
    assert len(names) == len(shape.machines)
    assert all(len(n) <= 15 and n.startswith(bridge_name(long)) for n in names)
    assert bridge_name("lab1") != bridge_name("lab2")


def test_lab_network_is_the_bridge(lab: Lab) -> None:
    assert lab.network == bridge_name("vmt-unit")


def test_guest_config(lab: Lab) -> None:
    cp1 = lab.machines[0]
    config = vm.guest_config(lab, cp1, "ssh-ed25519 AAA lab\n", "PRIVATE", "ssh-ed25519 BBB\n")
    files = config["files"]
    assert config["hostname"] == cp1.name
    assert files["/root/.ssh/authorized_keys"] == {"content": "ssh-ed25519 AAA lab\n", "mode": "0600"}
    assert files["/etc/ssh/ssh_host_ed25519_key"]["mode"] == "0600"
    hosts = files["/etc/hosts"]["content"].splitlines()
    assert [f"{m.ip} {m.name}" for m in lab.machines] == hosts[2:]
    lab_net = files["/etc/systemd/network/20-homelab-lab.network"]["content"]
    assert "MACAddress=02:4c:61:5b:04:0b" in lab_net
    assert "Address=10.91.4.11/24" in lab_net and "Gateway=10.91.4.1" in lab_net
    mgmt = files["/etc/systemd/network/10-homelab-mgmt.network"]["content"]
    assert "MACAddress=52:54:00:5b:04:0b" in mgmt and "Address=10.0.2.15/24" in mgmt and "Gateway" not in mgmt
    # a nameserver on the lab network (nobody there): CoreDNS exits on a node without any
    assert files["/etc/resolv.conf"]["content"] == "nameserver 10.91.4.1\n"


def test_state_round_trip(lab: Lab) -> None:
    image = vmimage.VmImage(Path("/img"))
    data = json.loads(json.dumps(vm.state_data(lab, "tcg", 2048, image, {lab.machines[0].name: 6443},
                                               {lab.machines[0].name: 70.5})))
    assert vm.lab_from_state(data, lab.directory) == lab
    assert data["machines"][0]["boot_seconds"] == 70.5 and data["bridge"] == lab.network
    assert [m["api_port"] for m in data["machines"]] == [6443, 0, 0, 0, 0]


def test_up_options_reach_the_api_through_its_forward(lab: Lab) -> None:
    vm._save(lab, vm.state_data(lab, "kvm", 2048, vmimage.VmImage(Path("/img")), {lab.machines[0].name: 21443}))
    assert vm.up_options(lab) == ["--api-server", "https://127.0.0.1:21443",
                                  "-e", 'kubeadm_init_extra_cert_sans=["127.0.0.1"]']


def test_up_options_under_software_emulation_add_the_slow_machines_settings(lab: Lab) -> None:
    from homelab_ctl.runner.paths import ansible_paths

    vm._save(lab, vm.state_data(lab, "tcg", 2048, vmimage.VmImage(Path("/img")), {lab.machines[0].name: 21443}))
    options = vm.up_options(lab)
    slow = ansible_paths().playbooks / "vars/slow-machines.yml"
    assert options[-2:] == ["-e", f"@{slow}"] and slow.is_file()


def test_ports_of_recorded_vm_labs_are_taken(lab: Lab) -> None:
    drivers.record(lab.name, "vm", lab.directory)
    vm._save(lab, vm.state_data(lab, "tcg", 2048, vmimage.VmImage(Path("/img")), {lab.machines[0].name: 21443}))
    assert vm.recorded_ports() == {21443} | {m.ssh_port for m in lab.machines}


def test_vm_pool_is_not_podmans() -> None:
    from homelab_ctl.lab import network

    assert not vm.POOL.overlaps(network.POOL)
    used = [ipaddress.IPv4Network("10.91.0.0/24")]
    assert network.pick_subnet(used, vm.POOL) == ipaddress.IPv4Network("10.91.1.0/24")


def test_spec_of_a_vm_lab_is_valid_and_not_container_nodes(lab: Lab) -> None:
    text = specfile.text(lab)
    cluster, problems = parse(text)
    assert cluster is not None and not [p for p in problems if p.severity == "error"]
    assert "containerNodes" not in text and "qemu VMs" in text.splitlines()[0]
    assert [n["address"] for n in yaml.safe_load(text)["spec"]["nodes"]] == [m.ip for m in lab.machines]


def test_image_repository_has_what_the_roles_install() -> None:
    preinstall = yaml.safe_load((REPO / "roles/preinstall/defaults/main.yml").read_text())
    containerd = yaml.safe_load((REPO / "roles/containerd/defaults/main.yml").read_text())
    wanted = {*preinstall["preinstall_packages"], *preinstall["preinstall_nfs_packages"],
              preinstall["preinstall_time_sync"], *containerd["containerd_distro_packages"]}
    assert wanted <= set(vmimage.REPO_PACKAGES)


def test_vm_scenarios_need_their_own_switch() -> None:
    assert not selected("vm", {"HOMELAB_MOLECULE_ALL": "1"})
    assert selected("vm", {"HOMELAB_MOLECULE_VM": "1"})
    assert selected("default", {}) and not selected("upstream", {})


def test_cli_add_to_a_vm_lab_is_one_line(tmp_path: Path, data_home: Path) -> None:
    drivers.record("vmt-unit", "vm", tmp_path / "gone")
    env = {**os.environ, "COLUMNS": "200", "XDG_STATE_HOME": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([EXE, "lab", *args], capture_output=True, text=True, env=env, check=False)

    add = run("add", "--name", "vmt-unit")
    assert add.returncode == ExitCode.SPEC
    assert add.stderr.strip().splitlines() == ["error lab vmt-unit is a VM lab: `lab add` works on podman labs only"]
    status = run("status", "--name", "vmt-unit")
    assert status.returncode == ExitCode.LAB
    assert len(status.stderr.strip().splitlines()) == 1 and "is broken" in status.stderr


def test_pid_of_is_only_this_vms_qemu(tmp_path: Path) -> None:
    folder = tmp_path / "vms" / "cp1"
    folder.mkdir(parents=True)
    assert qemu.pid_of(folder) is None
    qemu.pidfile(folder).write_text(f"{os.getpid()}\n")  # a reused pid: another program
    assert qemu.pid_of(folder) is None
    # a process that names the pidfile on its command line, as qemu -pidfile does
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(qemu.pidfile(folder))])
    try:
        cmdline = Path(f"/proc/{proc.pid}/cmdline")
        for _ in range(100):  # until the child has exec'd (qemu writes its pidfile long after that)
            if str(qemu.pidfile(folder)).encode() in cmdline.read_bytes():
                break
            time.sleep(0.05)
        qemu.pidfile(folder).write_text(f"{proc.pid}\n")
        assert qemu.pid_of(folder) == proc.pid
        qemu.stop(folder, 0)
        assert proc.wait(timeout=10) != 0
        assert qemu.pid_of(folder) is None and not qemu.pidfile(folder).exists()
    finally:
        proc.kill()
