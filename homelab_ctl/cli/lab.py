"""homelab-ctl lab: local lab machines (podman systemd containers, or qemu VMs) to try homelab-ctl on."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from types import ModuleType

    from homelab_ctl.lab.model import Lab

name_option = click.option("--name", default="lab", show_default=True,
                           help="Lab name; machines are NAME-cp1.., NAME-w1.. and the network NAME-net.")


driver_option = click.option(
    "--driver", type=click.Choice(["podman", "vm"]), default="podman", show_default=True,
    help="podman: systemd containers; vm: qemu VMs with Debian's kernel (KVM when it works, else "
         "software emulation), a private bridge between them and SSH on 127.0.0.1.")


def _backend(name: str) -> ModuleType:
    """The module that runs this lab (a VM lab is recorded; any other name is podman's)."""
    from homelab_ctl.lab import drivers

    return drivers.backend(drivers.of(name))


def _echo(line: str) -> None:
    from homelab_ctl.console import out

    out().print(line, soft_wrap=True, markup=False)


@click.group("lab")
def command() -> None:
    """Local lab machines: privileged podman containers with systemd and sshd (Debian 12), or qemu
    VMs (--driver vm).

    Needs root, podman, runc and debootstrap (apt-get install podman runc debootstrap); VMs also
    need qemu (apt-get install --no-install-recommends qemu-system-x86 qemu-utils).
    """


@command.command("image")
@click.option("--rebuild", is_flag=True,
              help="Build again even when the image exists (running machines keep the old one).")
@driver_option
def image_cmd(rebuild: bool, driver: str) -> None:
    """Build the lab machine image with debootstrap (about 90 s), only when it is missing.

    With --driver vm: the VM disk image (the same rootfs with Debian's kernel, about 4 minutes).
    """
    from homelab_ctl.lab import image, vmimage

    if driver == "vm":
        if vmimage.exists() and not rebuild:
            _echo(f"{vmimage.current().disk} exists (use --rebuild to build it again)")
            return
        vmimage.ensure(_echo, rebuild=rebuild)
        return
    if image.exists() and not rebuild:
        _echo(f"{image.IMAGE} exists (use --rebuild to build it again)")
        return
    image.ensure_image(_echo, rebuild=rebuild)


@command.command("up")
@click.option("--control-planes", type=int, default=3, show_default=True, help="Odd number of control planes.")
@click.option("--workers", type=int, default=2, show_default=True)
@name_option
@click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False),
              help="Directory for the SSH key, known_hosts and cluster.yaml; must be new or empty. "
                   "[default: ~/.local/share/homelab-ctl/labs/NAME]")
@click.option("--mirror", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="Offline mirror (homelab-ctl mirror build): the spec installs from it, containerd included.")
@driver_option
def up_cmd(control_planes: int, workers: int, name: str, directory: Path | None, mirror: Path | None,
           driver: str) -> None:
    """Start lab machines and write a cluster spec for them.

    Builds the image first if it is missing. Each machine gets an address on its own lab network
    (the node address) and publishes SSH on 127.0.0.1. On failure nothing is left behind.
    """
    from homelab_ctl.lab import drivers

    started = time.monotonic()
    backend = drivers.backend("vm" if driver == "vm" else "podman")
    lab = backend.up(name, control_planes, workers, directory, echo=_echo, mirror=mirror)
    _echo(f"lab {lab.name} is up in {time.monotonic() - started:.1f} s "
          f"(network {lab.network} {lab.subnet}{f', VIP {lab.vip}' if lab.vip else ''})")
    _table(lab)
    spec = lab.spec_path
    _echo(f"\nspec:  {spec}\nkey:   {lab.key_path}\nnext:  homelab-ctl validate -f {spec}\n"
          f"       homelab-ctl render -f {spec} -o {lab.directory / 'inventory'}\n"
          f"       ssh -i {lab.key_path} -o UserKnownHostsFile={lab.known_hosts_path} "
          f"-p {lab.machines[0].ssh_port} root@127.0.0.1\n"
          f"down:  homelab-ctl lab down --name {lab.name}")


@command.command("add")
@name_option
@click.option("--role", type=click.Choice(["worker", "control-plane"]), default="worker", show_default=True)
def add_cmd(name: str, role: str) -> None:
    """Start one more machine in the lab and add it to the lab's cluster.yaml (`up` joins it)."""
    from homelab_ctl.errors import UsageError
    from homelab_ctl.lab import drivers, machines

    if drivers.of(name) == "vm":
        raise UsageError(f"lab {name} is a VM lab: `lab add` works on podman labs only")
    started = time.monotonic()
    machine = machines.add(name, "worker" if role == "worker" else "control-plane", echo=_echo)
    _echo(f"{machine.name} is up in {time.monotonic() - started:.1f} s; next: homelab-ctl up -f "
          f"{machines.get(name).spec_path}")


@command.command("stop")
@name_option
@click.argument("machine")
@click.option("--kill", is_flag=True, help="Kill at once, like pulling the plug.")
def stop_cmd(name: str, machine: str, kill: bool) -> None:
    """Stop one machine of the lab (MACHINE: its full or short name, e.g. cp1)."""
    backend = _backend(name)
    lab = backend.get(name)
    stopped = backend.stop(lab, machine, timeout=0 if kill else 10)
    _echo(f"{stopped.name}: {stopped.state}")


@command.command("start")
@name_option
@click.argument("machine")
def start_cmd(name: str, machine: str) -> None:
    """Start a stopped machine of the lab and wait until it answers SSH."""
    backend = _backend(name)
    lab = backend.get(name)
    started = backend.start(lab, machine)
    _echo(f"{started.name}: {started.state}, SSH 127.0.0.1:{started.ssh_port}")


@command.command("status")
@name_option
def status_cmd(name: str) -> None:
    """Show the lab's machines: role, state, address and SSH port."""
    lab = _backend(name).get(name)
    _echo(f"lab {lab.name}: network {lab.network} {lab.subnet}"
          f"{f', VIP {lab.vip}' if lab.vip else ''}; spec {lab.spec_path}")
    _table(lab)


@command.command("down")
@name_option
@click.option("--keep-dir", is_flag=True, help="Keep the lab directory (key, known_hosts, cluster.yaml).")
def down_cmd(name: str, keep_dir: bool) -> None:
    """Remove the lab's machines and network, and its directory (unless --keep-dir).

    Only containers and the network labelled with this lab are removed (for a VM lab: its qemu
    processes, disks, bridge and taps). Nothing to remove is not an error.
    """
    started = time.monotonic()
    if _backend(name).down(name, keep_dir=keep_dir, echo=_echo):
        _echo(f"lab {name} removed in {time.monotonic() - started:.1f} s")
    else:
        _echo(f"no lab named {name}: nothing to remove")


def _table(lab: Lab) -> None:
    from rich.table import Table

    from homelab_ctl.console import out

    table = Table(box=None, pad_edge=False)
    for column in ("MACHINE", "ROLE", "STATE", "ADDRESS", "SSH"):
        table.add_column(column)
    for m in lab.machines:
        table.add_row(m.name, m.role, m.state or "-", m.ip or "-", f"127.0.0.1:{m.ssh_port}" if m.ssh_port else "-")
    out().print(table)
