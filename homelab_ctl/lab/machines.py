"""Bring a lab up and down; stop and start one of its machines.

A lab is found again through podman labels (containers and network), so a lab made by one process
can be inspected, changed and removed by another.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from homelab_ctl.errors import LabError
from homelab_ctl.lab import drivers, image, network, paths, podman, ports, specfile, ssh
from homelab_ctl.lab.model import (
    LABEL,
    LABEL_DIR,
    LABEL_IP,
    LABEL_ROLE,
    LABEL_VIP,
    MARKER,
    Lab,
    Machine,
    Role,
    check_shape,
    mac_for,
    network_name,
    plan,
    sort_key,
)

Echo = Callable[[str], None]
T = TypeVar("T")
R = TypeVar("R")
SSH_USER = "root"
BOOT_TIMEOUT = 120.0


def _quiet(_: str) -> None:
    pass


def up(name: str = "lab", control_planes: int = 3, workers: int = 2, directory: Path | None = None,
       echo: Echo = _quiet, mirror: Path | None = None) -> Lab:
    """Start the machines and write the lab's key, known_hosts and cluster.yaml into directory
    (default ~/.local/share/homelab-ctl/labs/NAME, which must be missing, empty or a lab's).

    Returns once every machine runs systemd and answers SSH. On any failure everything created
    is removed again.
    """
    check_shape(name, control_planes, workers)
    podman.require("podman")
    directory = (directory or paths.default_dir(name)).expanduser().absolute()
    check_directory(directory, name)
    image.ensure_image(echo)
    raise_host_limits(echo)
    # Checked and claimed under one lock: a second `lab up` of the same name stops here.
    with network.allocation_lock():
        if drivers.recorded(name):
            raise already_exists(name)
        _refuse_existing(name, control_planes, workers)
        subnet = network.pick_subnet(network.used_subnets())
        lab = plan(name, control_planes, workers, str(subnet), directory)
        network.create(lab)
    echo(f"network {lab.network}: {lab.subnet}" + (f", VIP {lab.vip}" if lab.vip else ""))
    created: list[str] = []
    try:
        prepare_directory(directory, name)
        ssh.generate_key(lab.key_path, lab.public_key_path, f"homelab-ctl-lab-{name}")
        machines = []
        for machine in lab.machines:
            _run(lab, machine)
            created.append(machine.name)
            machines.append(_describe(machine.name))
        lab = replace(lab, machines=tuple(machines))
        echo(f"started {len(machines)} machines: waiting for systemd and SSH")
        host_keys = parallel(lambda m: _boot(m.name), lab.machines)
        lines = [line for m, keys in zip(lab.machines, host_keys, strict=True)
                 for line in ssh.known_hosts_lines(ssh.HOST, m.ssh_port, keys)]
        lab.known_hosts_path.write_text("\n".join(lines) + "\n")
        parallel(lambda m: _wait_ssh(lab, m), lab.machines)
        specfile.write(lab, mirror)
        return lab
    except BaseException:
        if created:
            podman.run(["rm", "-f", "-t", "0", *created], check=False)
        _remove_volumes(name)
        podman.run(["network", "rm", lab.network], check=False)
        remove_directory(directory)
        raise


def add(name: str, role: Role = "worker", echo: Echo = _quiet) -> Machine:
    """Start one more machine in an existing lab (the next free name and address of its role),
    make it known to the others and add it to the lab's cluster.yaml."""
    lab = get(name)
    taken = {m.name for m in lab.machines}
    count = len(lab.control_planes if role == "control-plane" else lab.workers)
    index = count + 1
    prefix = "cp" if role == "control-plane" else "w"
    while f"{name}-{prefix}{index}" in taken:
        index += 1
    cps = (index | 1) if role == "control-plane" else 1  # plan() wants an odd count; only addresses matter here
    shape = plan(name, cps, index if role == "worker" else 0, lab.subnet, lab.directory)
    new = next(m for m in shape.machines if m.name == f"{name}-{prefix}{index}")
    if podman.exists("container", new.name):
        raise LabError(f"a container named {new.name} already exists")
    grown = replace(lab, machines=(*lab.machines, new))
    _run(grown, new)
    try:
        keys = _boot(new.name)
        machine = _describe(new.name)
        with lab.known_hosts_path.open("a") as fh:
            fh.write("\n".join(ssh.known_hosts_lines(ssh.HOST, machine.ssh_port, keys)) + "\n")
        _wait_ssh(lab, machine)
        for other in lab.machines:
            if other.state == "running":
                podman.run(["exec", other.name, "sh", "-c", f"echo '{new.ip} {new.name}' >> /etc/hosts"], check=False)
        specfile.add_node(replace(grown, machines=(*lab.machines, machine)), machine)
    except BaseException:
        podman.run(["rm", "-f", "-t", "0", new.name], check=False)
        podman.run(["volume", "rm", "-f", var_volume(new.name)], check=False)
        raise
    echo(f"added {machine.name} ({role}) at {machine.ip}, SSH 127.0.0.1:{machine.ssh_port}")
    return machine


# inotify limits are the host's, shared by every kubelet and pod of every lab machine; the
# defaults (128 instances) run out with a few nodes: kube-proxy dies with "too many open files".
HOST_LIMITS = {"/proc/sys/fs/inotify/max_user_instances": 8192, "/proc/sys/fs/inotify/max_user_watches": 524288}


def raise_host_limits(echo: Echo = _quiet) -> None:
    for path, wanted in HOST_LIMITS.items():
        try:
            current = int(Path(path).read_text().strip())
            if current < wanted:
                Path(path).write_text(f"{wanted}\n")
                echo(f"raised {path.removeprefix('/proc/sys/').replace('/', '.')} from {current} to {wanted} "
                     "(the lab's kubelets share the host's inotify limits)")
        except (OSError, ValueError) as exc:
            echo(f"warning: could not raise {path}: {exc}")


def get(name: str) -> Lab:
    """The lab as podman sees it now (state and ports of every machine)."""
    net = network.inspect(network_name(name))
    containers = _containers(name)
    if net is None or _label(net, LABEL) != name:
        if containers:
            raise LabError(f"lab {name} is broken (its network is missing): remove it with "
                           f"`homelab-ctl lab down --name {name}`")
        raise LabError(f"no lab named {name} (start one with `homelab-ctl lab up --name {name}`)")
    subnets = net.get("subnets") or []
    assert isinstance(subnets, list)
    subnet = str(subnets[0]["subnet"]) if subnets else ""
    directory = Path(_label(net, LABEL_DIR) or paths.default_dir(name))
    machines = sorted((_machine(c) for c in containers), key=sort_key)
    return Lab(name, directory, subnet, _label(net, LABEL_VIP) or None, tuple(machines))


def exists(name: str) -> bool:
    net = network.inspect(network_name(name))
    return bool(_containers(name)) or (net is not None and _label(net, LABEL) == name)


def down(name: str, keep_dir: bool = False, echo: Echo = _quiet) -> bool:
    """Remove the lab's containers and network, and its directory unless keep_dir.

    Only containers and the network carrying this lab's label are touched. False when there was
    nothing to remove.
    """
    podman.require("podman")
    net = network.inspect(network_name(name))
    ours = net is not None and _label(net, LABEL) == name
    directory = Path(_label(net, LABEL_DIR) or paths.default_dir(name)) if ours else paths.default_dir(name)
    found = False
    names = [c["Names"][0] for c in _containers(name)]
    if names:
        podman.run(["rm", "-f", "-t", "0", *names])
        echo(f"removed machines {', '.join(names)}")
        found = True
    volumes = _remove_volumes(name)
    if volumes:
        echo(f"removed volumes {', '.join(volumes)}")
        found = True
    if ours:
        network.remove(network_name(name))
        echo(f"removed network {network_name(name)}")
        found = True
    if not keep_dir and marker_owner(directory) == name:
        remove_directory(directory)
        echo(f"removed {directory}")
        found = True
    return found


def stop(lab: Lab, machine: str | Machine, timeout: int = 10) -> Machine:
    """Stop one machine (timeout 0: kill it at once, like pulling the plug)."""
    name = machine.name if isinstance(machine, Machine) else lab.machine(machine).name
    podman.run(["stop", "-t", str(timeout), name], timeout=timeout + 60)
    return _describe(name)


def start(lab: Lab, machine: str | Machine, timeout: float = BOOT_TIMEOUT) -> Machine:
    """Start a stopped machine and wait until it answers SSH again (same port, same host keys)."""
    name = machine.name if isinstance(machine, Machine) else lab.machine(machine).name
    podman.run(["start", name])
    _boot(name, timeout)
    started = _describe(name)
    _wait_ssh(lab, started)
    return started


# --- helpers -----------------------------------------------------------------------------------


def _refuse_existing(name: str, control_planes: int, workers: int) -> None:
    if exists(name):
        raise already_exists(name)
    if podman.exists("network", network_name(name)):
        raise LabError(f"a podman network named {network_name(name)} already exists (not a lab's): "
                       "choose another --name")
    for machine in plan(name, control_planes, workers, "10.0.0.0/24", Path()).machines:
        if podman.exists("container", machine.name):
            raise LabError(f"a container named {machine.name} already exists (not a lab's): "
                           "choose another --name")


def already_exists(name: str) -> LabError:
    return LabError(f"lab {name} already exists: see `homelab-ctl lab status --name {name}`, "
                    f"remove it with `homelab-ctl lab down --name {name}`, or choose another --name")


def marker_owner(directory: Path) -> str | None:
    """The lab a directory belongs to (first line of its marker), None for a user's directory."""
    marker = directory / MARKER
    if not marker.is_file():
        return None
    return marker.read_text(encoding="utf-8").partition("\n")[0].strip()


def check_directory(directory: Path, name: str) -> None:
    if directory.exists() and not directory.is_dir():
        raise LabError(f"{directory} is not a directory")
    owner = marker_owner(directory)
    if owner is None and directory.is_dir() and any(directory.iterdir()):
        raise LabError(f"{directory} is not empty: the lab needs an empty or new directory "
                       "(`lab down` deletes it)")
    if owner is not None and owner != name and (exists(owner) or drivers.recorded(owner)):
        raise LabError(f"{directory} belongs to lab {owner}, which still exists: choose another --dir")


def prepare_directory(directory: Path, name: str) -> None:
    if marker_owner(directory) is not None:  # left over by a lab that is gone
        remove_directory(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    (directory / MARKER).write_text(f"{name}\n# lab {name}: `homelab-ctl lab down --name {name}` "
                                    "deletes this directory\n", encoding="utf-8")


def remove_directory(directory: Path) -> None:
    # Only directories lab up made (they carry the marker): never a user's files.
    if (directory / MARKER).is_file():
        shutil.rmtree(directory, ignore_errors=True)


def _run(lab: Lab, machine: Machine) -> None:
    """Start one machine, able to run a real kubelet and containerd (as kind's nodes are).

    /var is a volume on the host's file system: containerd's overlayfs snapshots cannot live on
    the container's own overlay root. A private cgroup namespace gives the kubelet a cgroup tree
    of its own on cgroup v1 hosts. Names of the lab resolve through /etc/hosts (--add-host), not
    podman's DNS, which the CNI backend of some hosts lacks.
    """
    volume = var_volume(machine.name)
    podman.run(["volume", "create", "--label", f"{LABEL}={lab.name}", volume], check=False)
    hosts = [arg for m in lab.machines if m.name != machine.name for arg in ("--add-host", f"{m.name}:{m.ip}")]
    from homelab_ctl.lab import vm  # vm imports this module

    with network.allocation_lock():  # picked and published at once; it stays across restarts
        port = ports.pick(ports.podman_published() | vm.recorded_ports())
        podman.run([
            "run", "-d", "--name", machine.name, "--hostname", machine.name, "--privileged",
            "--cgroupns=private", "--pids-limit=-1",
            "--network", lab.network, "--ip", machine.ip, "--mac-address", mac_for(machine.ip), *hosts,
            "-p", f"{ssh.HOST}:{port}:22",
            "-v", f"{lab.public_key_path}:/root/.ssh/authorized_keys:ro",
            "-v", f"{volume}:/var:suid,exec,dev",
            "--label", f"{LABEL}={lab.name}", "--label", f"{LABEL_ROLE}={machine.role}",
            "--label", f"{LABEL_IP}={machine.ip}",
            image.IMAGE,
        ])


def var_volume(machine: str) -> str:
    return f"{machine}-var"


def _remove_volumes(name: str) -> list[str]:
    found = podman.run(["volume", "ls", "-q", "--filter", f"label={LABEL}={name}"], check=False).stdout.split()
    ours = [v for v in found if v.startswith(f"{name}-") and v.endswith("-var")]
    if ours:
        podman.run(["volume", "rm", "-f", *ours], check=False)
    return ours


def _containers(name: str) -> list[dict[str, Any]]:
    """This lab's containers: the label, and a name of the lab's shape (never anyone else's)."""
    found = podman.json_out(["ps", "-a", "--filter", f"label={LABEL}={name}", "--format", "json"])
    return [c for c in found if c.get("Names") and c["Names"][0].startswith(f"{name}-")
            and (c.get("Labels") or {}).get(LABEL) == name]


def _machine(container: dict[str, Any]) -> Machine:
    labels = container.get("Labels") or {}
    role: Role = "worker" if labels.get(LABEL_ROLE) == "worker" else "control-plane"
    port = next((int(p["host_port"]) for p in container.get("Ports") or [] if int(p["container_port"]) == 22), 0)
    return Machine(container["Names"][0], role, str(labels.get(LABEL_IP, "")), port, str(container.get("State", "")))


def _describe(name: str) -> Machine:
    found = podman.json_out(["ps", "-a", "--filter", f"name=^{name}$", "--format", "json"])
    if not found:
        raise LabError(f"machine {name} does not exist")
    return _machine(found[0])


def _boot(name: str, timeout: float = BOOT_TIMEOUT) -> str:
    """Wait until systemd is up (running or degraded); return the machine's public host keys."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        proc = podman.run(["exec", name, "systemctl", "is-system-running"], check=False, timeout=30)
        state = proc.stdout.strip()
        if state in ("running", "degraded"):
            keys = podman.run(["exec", name, "sh", "-c", "cat /etc/ssh/ssh_host_*_key.pub"]).stdout
            return keys
        # "offline" is not final: systemctl says it until PID 1 answers on its bus, which takes
        # a while after a hard stop on a loaded host.
        if state in ("maintenance", "stopping"):
            break
        if not state and _describe(name).state != "running":  # exec failed: is it still up?
            log = podman.run(["logs", "--tail", "5", name], check=False)
            raise LabError(f"machine {name} stopped while booting: {podman.last_line(log.stdout + log.stderr)}")
        time.sleep(0.25)
    failed = podman.run(["exec", name, "systemctl", "--failed", "--no-legend", "--plain"], check=False)
    units = ", ".join(line.split()[0] for line in failed.stdout.splitlines() if line.split()) or "none"
    raise LabError(f"machine {name} did not boot within {timeout:.0f} s "
                   f"(systemd: {state or 'not answering'}; failed units: {units})")


def _wait_ssh(lab: Lab, machine: Machine) -> None:
    ssh.wait_for_ssh(machine.ssh_port, SSH_USER, lab.key_path, lab.known_hosts_path)


def _label(obj: dict[str, Any] | None, key: str) -> str:
    labels = (obj or {}).get("labels") or {}
    return str(labels.get(key, ""))


def parallel(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """fn over items in threads; the first error is raised after all have finished."""
    todo = list(items)
    with ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
        futures = [pool.submit(fn, item) for item in todo]
    return [f.result() for f in futures]
