"""The VM backend of the lab: the same lab (names, addresses, key, known_hosts, cluster.yaml) made
of qemu VMs booted from the lab's Debian image with a real kernel.

Each VM runs on a qcow2 overlay of the cached base image, with a swap disk, an SSH port forward on
127.0.0.1 and a tap on the lab's bridge. Everything a VM lab makes lives in its directory (state
file vm-lab.json, vms/<machine>/: overlay, swap, pidfile, QMP socket, serial log) plus its bridge
and taps; `down` removes all of it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import socket
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from homelab_ctl.errors import LabError
from homelab_ctl.lab import drivers, network, paths, ports, qemu, specfile, ssh, vmimage, vmnet
from homelab_ctl.lab.machines import (
    Echo,
    already_exists,
    check_directory,
    marker_owner,
    parallel,
    prepare_directory,
    remove_directory,
)
from homelab_ctl.lab.model import Lab, Machine, bridge_name, check_shape, mac_for, plan, tap_name

# Its own pool: never the subnet of a podman lab, whatever version of homelab-ctl made that one.
POOL = ipaddress.IPv4Network("10.91.0.0/16")
STATE = "vm-lab.json"
MEMORY_MIB = 2048
CPUS = 2
SWAP_MIB = 512
# Software emulation on a busy 2-core host: a boot takes 1-3 minutes.
BOOT_TIMEOUT = 900.0
SSH_USER = "root"


def _quiet(_: str) -> None:
    pass


# --- the pure parts -------------------------------------------------------------------------------


def mgmt_mac(machine: Machine) -> str:
    """The MAC of the user-network NIC (its own qemu network per VM: only needs to be fixed)."""
    return "52:54:00" + mac_for(machine.ip)[8:]


def guest_config(lab: Lab, machine: Machine, authorized_key: str, host_key: str, host_key_pub: str) -> dict[str, Any]:
    """What the VM writes at its first boot (vmimage's fw_cfg unit): hostname, the lab's names in
    /etc/hosts, the lab key, its SSH host key (known before it boots) and its two networks. The
    lab network's gateway (.1) is nobody: a default route there gives facts and kube-vip the lab
    interface, and nothing leaves the lab. It is the nameserver too: CoreDNS, which forwards other
    names to the node's nameservers, exits on a node without one; here such lookups fail, as offline."""
    net = ipaddress.IPv4Network(lab.subnet)
    hosts = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"
    hosts += "".join(f"{m.ip} {m.name}\n" for m in lab.machines)
    mgmt = (f"[Match]\nMACAddress={mgmt_mac(machine)}\n\n[Network]\nAddress={qemu.MGMT_GUEST_IP}/24\n"
            "LinkLocalAddressing=no\nIPv6AcceptRA=no\n")
    lab_net = (f"[Match]\nMACAddress={mac_for(machine.ip)}\n\n[Network]\nAddress={machine.ip}/{net.prefixlen}\n"
               f"Gateway={net[1]}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n")

    def entry(content: str, mode: str = "0644") -> dict[str, str]:
        return {"content": content, "mode": mode}

    return {
        "hostname": machine.name,
        "files": {
            "/etc/hostname": entry(machine.name + "\n"),
            "/etc/hosts": entry(hosts),
            "/etc/resolv.conf": entry(f"nameserver {net[1]}\n"),
            "/root/.ssh/authorized_keys": entry(authorized_key, "0600"),
            "/etc/ssh/ssh_host_ed25519_key": entry(host_key, "0600"),
            "/etc/ssh/ssh_host_ed25519_key.pub": entry(host_key_pub),
            "/etc/systemd/network/10-homelab-mgmt.network": entry(mgmt),
            "/etc/systemd/network/20-homelab-lab.network": entry(lab_net),
        },
    }


def vm_config(lab: Lab, machine: Machine, accel: str, memory_mib: int, image: vmimage.VmImage,
              api_port: int = 0) -> qemu.VmConfig:
    folder = machine_dir(lab.directory, machine.name)
    return qemu.VmConfig(
        name=machine.name, accel=accel, memory_mib=memory_mib, cpus=CPUS, ssh_port=machine.ssh_port,
        mgmt_mac=mgmt_mac(machine), lab_mac=mac_for(machine.ip), tap=tap_name(lab.name, machine),
        kernel=image.kernel, initrd=image.initrd, disk=folder / "disk.qcow2", swap=folder / "swap.img",
        config=folder / "config.json", machine_dir=folder, api_port=api_port,
    )


def machine_dir(directory: Path, machine: str) -> Path:
    return directory / "vms" / machine


def state_data(lab: Lab, accel: str, memory_mib: int, image: vmimage.VmImage, api_ports: dict[str, int],
               boot_seconds: dict[str, float] | None = None) -> dict[str, Any]:
    return {
        "driver": "vm", "name": lab.name, "subnet": lab.subnet, "vip": lab.vip, "bridge": bridge_name(lab.name),
        "accel": accel, "memory_mib": memory_mib, "image": str(image.directory),
        "machines": [{"name": m.name, "role": m.role, "ip": m.ip, "ssh_port": m.ssh_port,
                      "api_port": api_ports.get(m.name, 0), "boot_seconds": (boot_seconds or {}).get(m.name)}
                     for m in lab.machines],
    }


def lab_from_state(data: dict[str, Any], directory: Path) -> Lab:
    machines = tuple(Machine(m["name"], "worker" if m["role"] == "worker" else "control-plane", m["ip"],
                             int(m["ssh_port"])) for m in data["machines"])
    return Lab(data["name"], directory, data["subnet"], data.get("vip"), machines, driver="vm")


# --- the lab -------------------------------------------------------------------------------------


def up(name: str = "lab", control_planes: int = 3, workers: int = 2, directory: Path | None = None,
       echo: Echo = _quiet, mirror: Path | None = None, memory_mib: int = MEMORY_MIB) -> Lab:
    """Boot the VMs and write the lab's key, known_hosts and cluster.yaml (as machines.up does).
    Returns once every VM answers SSH; on any failure everything created is removed again."""
    check_shape(name, control_planes, workers)
    _require()
    directory = (directory or paths.default_dir(name)).expanduser().absolute()
    check_directory(directory, name)
    image = vmimage.ensure(echo)
    accel = qemu.accel(image.kernel)
    slow = " (software emulation: KVM does not run guests here; slow)"
    echo(f"accelerator: {accel}" + ("" if accel == "kvm" else slow))
    with network.allocation_lock():
        from homelab_ctl.lab import machines as podman_labs

        if drivers.recorded(name) or podman_labs.exists(name):
            raise already_exists(name)
        subnet = network.pick_subnet([*network.used_subnets(), *_vm_subnets()], POOL)
        lab = replace(plan(name, control_planes, workers, str(subnet), directory), driver="vm")
        drivers.record(name, "vm", directory)  # claims the name and the subnet
    echo(f"network {lab.network} (bridge): {lab.subnet}" + (f", VIP {lab.vip}" if lab.vip else ""))
    try:
        prepare_directory(directory, name)
        ssh.generate_key(lab.key_path, lab.public_key_path, f"homelab-ctl-lab-{name}")
        with network.allocation_lock():  # recorded before the lock goes: a stopped VM keeps its ports
            taken = ports.podman_published() | recorded_ports()
            for_machines = [_pick(taken) for _ in lab.machines]
            lab = replace(lab, machines=tuple(replace(m, ssh_port=p) for m, p in zip(lab.machines, for_machines,
                                                                                     strict=True)))
            api_ports = {m.name: _pick(taken) for m in lab.control_planes}
            _save(lab, state_data(lab, accel, memory_mib, image, api_ports))
        vmnet.create_bridge(lab.network)
        known_hosts = [_create_machine(lab, m, accel, memory_mib, image) for m in lab.machines]
        lab.known_hosts_path.write_text("".join(known_hosts))
        echo(f"booting {len(lab.machines)} VMs ({accel}, {memory_mib} MiB, {CPUS} CPUs each): waiting for SSH")
        boots = parallel(lambda m: _boot(lab, m, accel, memory_mib, image), lab.machines)
        seconds = dict(zip((m.name for m in lab.machines), boots, strict=True))
        _save(lab, state_data(lab, accel, memory_mib, image, api_ports, seconds))
        for m in lab.machines:
            echo(f"{m.name}: booted in {seconds[m.name]:.0f} s, qemu RSS {_rss(lab, m)} MiB")
        echo(f"Kubernetes API of {lab.control_planes[0].name} forwarded to 127.0.0.1 (the lab network is not "
             f"routed from here): homelab-ctl up {' '.join(shlex.quote(a) for a in up_options(lab))}")
        specfile.write(lab, mirror)
        return get(name)
    except BaseException:
        _teardown(name, directory)
        raise


def get(name: str) -> Lab:
    """The VM lab as recorded, with the state of every VM now (running or exited)."""
    found = drivers.recorded(name)
    if found is None:
        raise LabError(f"no VM lab named {name} (start one with `homelab-ctl lab up --driver vm --name {name}`)")
    directory = found[1]
    try:
        data = json.loads((directory / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LabError(f"lab {name} is broken ({directory / STATE}: {exc}): remove it with "
                       f"`homelab-ctl lab down --name {name}`") from None
    lab = lab_from_state(data, directory)
    return replace(lab, machines=tuple(replace(m, state=_state(lab, m)) for m in lab.machines))


def exists(name: str) -> bool:
    return drivers.recorded(name) is not None


def down(name: str, keep_dir: bool = False, echo: Echo = _quiet) -> bool:
    """Kill the VMs, remove the bridge and taps, the directory (unless keep_dir) and the record."""
    found = drivers.recorded(name)
    if found is None:
        return False
    _teardown(name, found[1], keep_dir, echo)
    return True


def stop(lab: Lab, machine: str | Machine, timeout: int = 10) -> Machine:
    """Shut one VM down (ACPI, then kill; 0: kill at once, like pulling the plug). A clean shutdown
    under software emulation takes longer than a container's: it gets at least a minute."""
    target = lab.machine(machine.name if isinstance(machine, Machine) else machine)
    qemu.stop(machine_dir(lab.directory, target.name), max(timeout, 60) if timeout > 0 else 0)
    return replace(target, state=_state(lab, target))


def start(lab: Lab, machine: str | Machine, timeout: float = BOOT_TIMEOUT) -> Machine:
    """Boot a stopped VM again (same disk, port and host key) and wait until it answers SSH."""
    target = lab.machine(machine.name if isinstance(machine, Machine) else machine)
    data = json.loads((lab.directory / STATE).read_text(encoding="utf-8"))
    image = vmimage.VmImage(Path(data["image"]))
    vmnet.add_tap(lab.network, tap_name(lab.name, target))  # gone after a host reboot
    if _state(lab, target) != "running":
        _boot(lab, target, data["accel"], int(data["memory_mib"]), image, timeout)
    return replace(target, state=_state(lab, target))


def stats(name: str) -> list[tuple[str, float | None, int]]:
    """Per VM: boot time at `up` (seconds) and the qemu process's resident memory now (MiB)."""
    lab = get(name)
    data = json.loads((lab.directory / STATE).read_text(encoding="utf-8"))
    boots = {m["name"]: m.get("boot_seconds") for m in data["machines"]}
    return [(m.name, boots.get(m.name), _rss(lab, m)) for m in lab.machines]


# --- helpers -------------------------------------------------------------------------------------


def _require() -> None:
    from homelab_ctl.lab import podman

    podman.require(qemu.QEMU, "qemu-img", "ip", "mkswap")
    if os.geteuid() != 0:
        raise LabError("a VM lab needs root (its bridge and tap devices): run `homelab-ctl lab up --driver vm` as root")


def _vm_subnets() -> list[ipaddress.IPv4Network]:
    nets = []
    for name in drivers.recorded_names():
        try:
            nets.append(ipaddress.IPv4Network(get(name).subnet))
        except (LabError, ValueError):
            continue
    return nets


def recorded_ports() -> set[int]:
    """The SSH and API ports of every VM lab on record, running or not."""
    found: set[int] = set()
    for name in drivers.recorded_names():
        directory = (drivers.recorded(name) or (None, None))[1]
        try:
            data = json.loads((directory / STATE).read_text(encoding="utf-8")) if directory else {}
            found.update(int(m.get(k) or 0) for m in data.get("machines", []) for k in ("ssh_port", "api_port"))
        except (OSError, ValueError, TypeError, AttributeError):
            continue
    return found - {0}


def _pick(taken: set[int]) -> int:
    port = ports.pick(taken)
    taken.add(port)
    return port


def _save(lab: Lab, data: dict[str, Any]) -> None:
    (lab.directory / STATE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise LabError(f"{cmd[0]} failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")


def _create_machine(lab: Lab, machine: Machine, accel: str, memory_mib: int, image: vmimage.VmImage) -> str:
    """Overlay, swap disk, tap and first-boot configuration of one VM; its known_hosts lines."""
    vm = vm_config(lab, machine, accel, memory_mib, image)
    vm.machine_dir.mkdir(parents=True, mode=0o700)
    _run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(image.disk), str(vm.disk)])
    with vm.swap.open("wb") as fh:
        fh.truncate(SWAP_MIB * 1024 * 1024)
    _run(["mkswap", "-L", "homelab-swap", str(vm.swap)])
    host_key, host_key_pub = vm.machine_dir / "host_key", vm.machine_dir / "host_key.pub"
    ssh.generate_key(host_key, host_key_pub, f"root@{machine.name}")
    config = guest_config(lab, machine, lab.public_key_path.read_text(), host_key.read_text(), host_key_pub.read_text())
    fd = os.open(vm.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(config, fh)
    vmnet.add_tap(lab.network, vm.tap)
    return "\n".join(ssh.known_hosts_lines(ssh.HOST, machine.ssh_port, host_key_pub.read_text())) + "\n"


SLOW_MACHINES = "vars/slow-machines.yml"  # under playbooks/


def up_options(lab: Lab) -> list[str]:
    """What `homelab-ctl up` needs for a VM lab: the API through the first control plane's port
    forward, which its certificate must then name; under software emulation also the settings for
    slow machines (playbooks/vars/slow-machines.yml)."""
    from homelab_ctl.runner.paths import ansible_paths

    data = json.loads((lab.directory / STATE).read_text(encoding="utf-8"))
    port = _api_port(lab, lab.control_planes[0], data)
    options = ["--api-server", f"https://127.0.0.1:{port}", "-e", 'kubeadm_init_extra_cert_sans=["127.0.0.1"]']
    if data.get("accel") != "kvm":
        options += ["-e", f"@{ansible_paths().playbooks / SLOW_MACHINES}"]
    return options


def _api_port(lab: Lab, machine: Machine, data: dict[str, Any] | None = None) -> int:
    data = data or json.loads((lab.directory / STATE).read_text(encoding="utf-8"))
    return next((int(m.get("api_port") or 0) for m in data["machines"] if m["name"] == machine.name), 0)


def _state(lab: Lab, machine: Machine) -> str:
    return "running" if qemu.pid_of(machine_dir(lab.directory, machine.name)) is not None else "exited"


def _rss(lab: Lab, machine: Machine) -> int:
    pid = qemu.pid_of(machine_dir(lab.directory, machine.name))
    return qemu.rss_mib(pid) if pid else 0


def _boot(lab: Lab, machine: Machine, accel: str, memory_mib: int, image: vmimage.VmImage,
          timeout: float = BOOT_TIMEOUT) -> float:
    """Start the VM; seconds until it answered SSH with its recorded host key."""
    vm = vm_config(lab, machine, accel, memory_mib, image, _api_port(lab, machine))
    started = time.monotonic()
    qemu.start(vm, vmimage.CONFIG_FW_CFG)
    deadline = started + timeout
    while True:
        if qemu.pid_of(vm.machine_dir) is None:
            raise LabError(f"VM {machine.name} stopped while booting: {_serial_tail(vm)}")
        if not _banner(machine.ssh_port):
            if time.monotonic() > deadline:
                raise LabError(f"VM {machine.name} did not answer SSH within {timeout:.0f} s "
                               f"(serial console: {_serial_tail(vm)})", hint=f"console log: {vm.serial_log}")
            time.sleep(2)
            continue
        try:
            ssh.wait_for_ssh(machine.ssh_port, SSH_USER, lab.key_path, lab.known_hosts_path, timeout=15)
            return time.monotonic() - started
        except LabError:
            if time.monotonic() > deadline:
                raise LabError(f"VM {machine.name} did not answer SSH within {timeout:.0f} s "
                               f"(serial console: {_serial_tail(vm)})", hint=f"console log: {vm.serial_log}") from None


def _banner(port: int) -> bool:
    """sshd's banner on the forwarded port. Until the guest listens, qemu accepts and then drops
    the connection: waiting here keeps paramiko from logging a traceback per attempt."""
    try:
        with socket.create_connection((ssh.HOST, port), timeout=5) as sock:
            sock.settimeout(10)
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def _serial_tail(vm: qemu.VmConfig) -> str:
    try:
        lines = [line.strip() for line in vm.serial_log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no console output"
    return lines[-1] if lines else "no console output"


def _teardown(name: str, directory: Path, keep_dir: bool = False, echo: Echo = _quiet) -> None:
    """Remove whatever exists of a VM lab, in an order that works for half-made ones too."""
    killed = []
    vms = directory / "vms"
    for folder in sorted(vms.iterdir()) if vms.is_dir() else []:
        if qemu.pid_of(folder) is not None:
            qemu.stop(folder, 0)
            killed.append(folder.name)
    if killed:
        echo(f"stopped VMs {', '.join(killed)}")
    removed = vmnet.remove(vmnet.devices_with_prefix(bridge_name(name)))
    if removed:
        echo(f"removed network devices {', '.join(removed)}")
    if not keep_dir and marker_owner(directory) == name:
        remove_directory(directory)
        echo(f"removed {directory}")
    elif keep_dir and vms.is_dir():
        for folder in vms.iterdir():  # the disks go with the VMs: only key, known_hosts and spec stay
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
        vms.rmdir()
    drivers.forget(name)
