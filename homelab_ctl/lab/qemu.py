"""qemu for VM lab machines: the command line (pure), which accelerator works here, and the
daemonized qemu processes (pidfile, QMP socket, memory)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from homelab_ctl.errors import LabError, UsageError
from homelab_ctl.lab import paths

QEMU = "qemu-system-x86_64"
INSTALL_HINT = "apt-get install --no-install-recommends qemu-system-x86 qemu-utils"
ACCELS = ("kvm", "tcg")
ACCEL_ENV = "HOMELAB_VM_ACCEL"  # kvm or tcg: skip the probe
# Where KVM is nested without support the guest hangs at kernel start: a kernel that prints its
# panic (no root file system) within this time proves KVM runs guests here.
PROBE_TIMEOUT = 20.0
MGMT_GUEST_IP = "10.0.2.15"  # qemu user networking's guest address: hostfwd targets it


@dataclass(frozen=True)
class VmConfig:
    """Everything one qemu process is started with."""

    name: str
    accel: str
    memory_mib: int
    cpus: int
    ssh_port: int
    mgmt_mac: str
    lab_mac: str
    tap: str
    kernel: Path
    initrd: Path
    disk: Path
    swap: Path
    config: Path  # JSON read by the guest at first boot through fw_cfg
    machine_dir: Path
    api_port: int = 0  # control planes: the Kubernetes API (6443) forwarded to 127.0.0.1:api_port

    @property
    def pidfile(self) -> Path:
        return pidfile(self.machine_dir)

    @property
    def qmp(self) -> Path:
        return qmp_socket(self.machine_dir)

    @property
    def serial_log(self) -> Path:
        return self.machine_dir / "serial.log"


def pidfile(machine_dir: Path) -> Path:
    return machine_dir / "qemu.pid"


def qmp_socket(machine_dir: Path) -> Path:
    return machine_dir / "qmp.sock"


# Under software emulation the guest kernel finds its vCPUs' TSCs out of sync and falls back to the
# HPET: every clock read is then a system call and an emulated MMIO read (about 10 us, where Go
# programs read the clock all the time). qemu derives every vCPU's TSC from the host's, so the guest
# may trust it and read the clock in the vDSO.
TCG_KERNEL_ARGS = " tsc=reliable"


def command(vm: VmConfig, fw_cfg_name: str) -> list[str]:
    """qemu's arguments. Two NICs: user networking restricted to the port forwards on 127.0.0.1
    (SSH, and the API on control planes; the guest reaches nothing through it), and a tap on the
    lab's bridge (the lab network)."""
    if vm.accel not in ACCELS:
        raise ValueError(f"accel {vm.accel}")
    cpu = "host" if vm.accel == "kvm" else "max"
    return [
        QEMU, "-name", f"{vm.name},process=hl-{vm.name}"[:60],
        "-machine", f"q35,accel={vm.accel}", "-cpu", cpu, "-smp", str(vm.cpus), "-m", str(vm.memory_mib),
        "-nodefaults", "-display", "none", "-no-user-config",
        "-daemonize", "-pidfile", str(vm.pidfile),
        "-serial", f"file:{vm.serial_log}",
        "-qmp", f"unix:{vm.qmp},server=on,wait=off",
        "-kernel", str(vm.kernel), "-initrd", str(vm.initrd),
        "-append", "root=/dev/vda rw console=ttyS0 panic=10" + TCG_KERNEL_ARGS * (vm.accel == "tcg"),
        "-drive", f"file={vm.disk},if=virtio,format=qcow2,discard=unmap",
        "-drive", f"file={vm.swap},if=virtio,format=raw",
        "-netdev", f"user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:{vm.ssh_port}-{MGMT_GUEST_IP}:22"
                   + (f",hostfwd=tcp:127.0.0.1:{vm.api_port}-{MGMT_GUEST_IP}:6443" if vm.api_port else ""),
        "-device", f"virtio-net-pci,netdev=mgmt,mac={vm.mgmt_mac}",
        "-netdev", f"tap,id=lab,ifname={vm.tap},script=no,downscript=no",
        "-device", f"virtio-net-pci,netdev=lab,mac={vm.lab_mac}",
        "-device", "virtio-rng-pci",  # entropy for sshd and the kernel right at boot
        "-fw_cfg", f"name={fw_cfg_name},file={vm.config}",
    ]


def probe_command(kernel: Path) -> list[str]:
    """A kernel without root file system under KVM: it panics at once when KVM runs guests."""
    return [QEMU, "-machine", "q35,accel=kvm", "-cpu", "host", "-m", "256", "-nodefaults", "-display", "none",
            "-no-user-config", "-no-reboot", "-serial", "stdio", "-kernel", str(kernel),
            "-append", "console=ttyS0 panic=-1"]


def probe_says_kvm_works(output: str) -> bool:
    return "Kernel panic" in output or "VFS: Unable to mount root" in output


def accel(kernel: Path) -> str:
    """kvm when /dev/kvm really runs a guest, else tcg (software emulation). The probe's answer is
    kept for this host boot; HOMELAB_VM_ACCEL=kvm|tcg overrides it."""
    forced = os.environ.get(ACCEL_ENV, "")
    if forced:
        if forced not in ACCELS:
            raise UsageError(f"{ACCEL_ENV}={forced}: use kvm or tcg")
        return forced
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    cached = paths.cache_dir() / "vm-accel"
    if cached.is_file():
        recorded_boot, _, found = cached.read_text().strip().partition(" ")
        if recorded_boot == boot_id and found in ACCELS:
            return found
    found = "kvm" if _probe(kernel) else "tcg"
    cached.write_text(f"{boot_id} {found}\n")
    return found


def _probe(kernel: Path) -> bool:
    try:
        proc = subprocess.run(probe_command(kernel), capture_output=True, text=True, errors="replace",
                              timeout=PROBE_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return False
    return probe_says_kvm_works(proc.stdout)


def start(vm: VmConfig, fw_cfg_name: str) -> int:
    """Start qemu daemonized; its pid once it runs."""
    vm.pidfile.unlink(missing_ok=True)
    vm.qmp.unlink(missing_ok=True)
    try:
        proc = subprocess.run(command(vm, fw_cfg_name), capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError:
        raise LabError(f"{QEMU} not found (as root: {INSTALL_HINT})") from None
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        raise LabError(f"qemu did not start {vm.name}: {lines[-1] if lines else f'exit {proc.returncode}'}")
    pid = pid_of(vm.machine_dir)
    if pid is None:
        raise LabError(f"qemu started {vm.name} but wrote no pidfile {vm.pidfile}")
    return pid


def pid_of(machine_dir: Path) -> int | None:
    """The pid of the qemu running the VM of machine_dir (a reused pid of another program is not it)."""
    path = pidfile(machine_dir)
    try:
        pid = int(path.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if str(path).encode() in cmdline else None


def rss_mib(pid: int) -> int:
    """Resident memory of a process in MiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def powerdown(machine_dir: Path) -> None:
    """ACPI power button through QMP: the guest shuts down cleanly."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(qmp_socket(machine_dir)))
        reader = sock.makefile("r")
        reader.readline()  # greeting
        for cmd in ("qmp_capabilities", "system_powerdown"):
            sock.sendall(json.dumps({"execute": cmd}).encode() + b"\n")
            reader.readline()


def stop(machine_dir: Path, timeout: float) -> None:
    """Shut the VM down (timeout 0: kill it at once, like pulling the plug) and wait for qemu to go."""
    pid = pid_of(machine_dir)
    if pid is None:
        return
    if timeout > 0:
        powerdown(machine_dir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and pid_of(machine_dir) is not None:
            time.sleep(0.5)
    if pid_of(machine_dir) is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and pid_of(machine_dir) is not None:  # a zombie has no cmdline
            time.sleep(0.1)
    pidfile(machine_dir).unlink(missing_ok=True)
    qmp_socket(machine_dir).unlink(missing_ok=True)
