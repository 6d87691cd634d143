"""The VM variant of the lab image: the same debootstrap rootfs plus Debian's kernel, made into an
ext4 disk (qcow2) that qemu boots with -kernel/-initrd from its /boot (no bootloader).

Built once and cached under cache_dir()/vm-image/r<REVISION>; every VM runs on a qcow2 overlay of it.
The guest never reaches Debian's mirrors (its network is restricted), so the packages the roles
install with apt are downloaded while building into a local repository inside the image.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from homelab_ctl.errors import LabError
from homelab_ctl.lab import image, paths, podman

# Bump when the content changes: a new revision is built next to (never over) the old one.
REVISION = "2"
VM_PACKAGES = ("linux-image-amd64", "udev", "kmod", "apt-utils")
# What the roles apt-install (preinstall's packages, NFS client and chrony; containerd's distro
# packages). A unit test keeps this in step with the roles' defaults.
REPO_PACKAGES = ("apt-transport-https", "ca-certificates", "conntrack", "ethtool", "gpg", "iproute2",
                 "ipset", "iptables", "python3-debian", "socat", "util-linux", "nfs-common", "chrony",
                 "containerd", "runc")
REPO_DIR = "/var/lib/homelab-ctl/apt"
DISK_SIZE_MIB = 10240  # room for containerd images; sparse, the qcow2 only holds what is written
CONFIG_FW_CFG = "opt/homelab-ctl/config"  # qemu -fw_cfg name of a VM's configuration (JSON)

# First boot: the VM's own configuration comes from qemu's fw_cfg (no network, no cloud-init): the
# host writes every file (hostname, hosts, keys, network), this only puts them in place.
_CONFIG_SCRIPT = f"""\
import json, os, pathlib, subprocess
raw = pathlib.Path("/sys/firmware/qemu_fw_cfg/by_name/{CONFIG_FW_CFG}/raw")
config = json.loads(raw.read_text())
for path, entry in config["files"].items():
    target = pathlib.Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(entry["content"])
    os.chmod(target, int(entry["mode"], 8))
subprocess.run(["hostname", config["hostname"]], check=True)
pathlib.Path("/var/lib/homelab-ctl/configured").touch()
"""
CONFIG_UNIT = "homelab-vm-config.service"
_CONFIG_UNIT = f"""\
[Unit]
Description=Apply this VM's lab configuration (qemu fw_cfg {CONFIG_FW_CFG})
DefaultDependencies=no
After=local-fs.target
Before=systemd-networkd.service ssh.service {image.HOSTKEYS_UNIT}
ConditionPathExists=!/var/lib/homelab-ctl/configured

[Service]
Type=oneshot
ExecStartPre=-/sbin/modprobe qemu_fw_cfg
ExecStart=/usr/bin/python3 /usr/local/lib/homelab-ctl/vm-config.py
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
"""
# vdb is the VM's swap disk (mkswap'd by the host): on at boot until the preinstall role comments it out.
# Under software emulation on a loaded host udev can take longer than systemd's 90 s for the device:
# the swap unit then fails and the VM boots without swap.
_FSTAB = """\
/dev/vda / ext4 rw,errors=remount-ro 0 1
/dev/vdb none swap sw,x-systemd.device-timeout=10min 0 0
"""


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class VmImage:
    directory: Path

    @property
    def disk(self) -> Path:
        return self.directory / "base.qcow2"

    @property
    def kernel(self) -> Path:
        return self.directory / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.directory / "initrd.img"


def current() -> VmImage:
    return VmImage(paths.cache_dir() / "vm-image" / f"r{REVISION}")


def exists() -> bool:
    found = current()
    return all(p.is_file() for p in (found.disk, found.kernel, found.initrd))


def ensure(echo: image.Echo = _quiet, rebuild: bool = False) -> VmImage:
    """The cached image; built when missing (or always with rebuild), one process at a time."""
    if exists() and not rebuild:
        return current()
    with image.lock(echo, "vm-image.lock", "the VM image"):
        if exists() and not rebuild:
            echo("the VM image was built meanwhile")
            return current()
        build(echo)
    return current()


def build(echo: image.Echo = _quiet) -> None:
    """debootstrap with a kernel, a local apt repository, prepare, ext4 disk, qcow2."""
    podman.require("debootstrap", "mkfs.ext4", "qemu-img", "chroot")
    if os.geteuid() != 0:
        raise LabError("building the VM image needs root (debootstrap): "
                       "run `homelab-ctl lab image --driver vm` as root")
    target = current()
    log = paths.cache_dir() / "vm-image-build.log"
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="homelab-ctl-vm-image.", dir="/var/tmp"))
    rootfs = workdir / "rootfs"
    staging = target.directory.with_name(target.directory.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        packages = image.PACKAGES + VM_PACKAGES
        what = f"debootstrap {image.SUITE} (minbase + {len(packages)} packages and a kernel, log: {log})"
        with image.step(echo, what):
            image.debootstrap(rootfs, log, packages)
        with image.step(echo, f"local apt repository of {len(REPO_PACKAGES)} packages the roles install"):
            _local_repository(rootfs, log)
        with image.step(echo, "prepare the rootfs (lab image fixes, fstab, first-boot configuration, network)"):
            image.prepare(rootfs)
            prepare(rootfs)
        with image.step(echo, f"ext4 disk of {DISK_SIZE_MIB} MiB and qcow2"):
            _copy_boot_files(rootfs, VmImage(staging))
            _make_disk(rootfs, workdir / "disk.raw", VmImage(staging).disk)
        shutil.rmtree(target.directory, ignore_errors=True)
        staging.rename(target.directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        with image.step(echo, "remove the rootfs"):
            image.remove_tree(workdir)
    echo(f"built the VM image {target.disk} in {time.monotonic() - started:.0f} s")


def _chroot(rootfs: Path, log: Path, *args: str) -> None:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    with log.open("a") as fh:
        proc = subprocess.run(["chroot", str(rootfs), *args], stdout=fh, stderr=subprocess.STDOUT,
                              env=env, check=False)
    if proc.returncode != 0:
        raise LabError(f"{' '.join(args[:3])} in the VM rootfs failed (exit {proc.returncode}): "
                       f"{podman.last_line(log.read_text(errors='replace'))}", hint=f"full log: {log}")


def _local_repository(rootfs: Path, log: Path) -> None:
    """The .debs the roles install (with their missing dependencies), as a file: apt source."""
    _chroot(rootfs, log, "apt-get", "update")
    _chroot(rootfs, log, "apt-get", "install", "-y", "--download-only", "--no-install-recommends", *REPO_PACKAGES)
    repo = rootfs / REPO_DIR.lstrip("/")
    repo.mkdir(parents=True, exist_ok=True)
    for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        shutil.move(str(deb), repo / deb.name)
    _chroot(rootfs, log, "sh", "-c", f"cd {REPO_DIR} && apt-ftparchive packages . > Packages")
    (rootfs / "etc/apt/sources.list").write_text(
        f"# The guest has no way to Debian's mirrors: packages come from this image (homelab-ctl).\n"
        f"deb [trusted=yes] file:{REPO_DIR} ./\n")


def prepare(rootfs: Path) -> None:
    """What a VM needs on top of the lab image: fstab, first-boot configuration, networkd, no DNS."""
    (rootfs / "etc/fstab").write_text(_FSTAB)
    script = rootfs / "usr/local/lib/homelab-ctl/vm-config.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(_CONFIG_SCRIPT)
    units = rootfs / "etc/systemd/system"
    (units / CONFIG_UNIT).write_text(_CONFIG_UNIT)
    wants = units / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    image.symlink(f"/etc/systemd/system/{CONFIG_UNIT}", wants / CONFIG_UNIT)
    image.symlink("/lib/systemd/system/systemd-networkd.service", wants / "systemd-networkd.service")
    sockets = units / "sockets.target.wants"
    sockets.mkdir(parents=True, exist_ok=True)
    image.symlink("/lib/systemd/system/systemd-networkd.socket", sockets / "systemd-networkd.socket")
    # debootstrap copied the build host's resolver: the guest has none to reach.
    resolv = rootfs / "etc/resolv.conf"
    resolv.unlink(missing_ok=True)
    resolv.write_text("")
    (rootfs / "etc/hostname").write_text("localhost\n")


def _copy_boot_files(rootfs: Path, target: VmImage) -> None:
    kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
    initrds = sorted((rootfs / "boot").glob("initrd.img-*"))
    if not kernels or not initrds:
        raise LabError("the VM rootfs has no kernel or initrd in /boot (linux-image-amd64 not installed?)")
    shutil.copyfile(kernels[-1], target.kernel)
    shutil.copyfile(initrds[-1], target.initrd)


def _make_disk(rootfs: Path, raw: Path, qcow2: Path) -> None:
    """mkfs.ext4 -d fills the file system from the directory: no loop device, no mount."""
    with raw.open("wb") as fh:
        fh.truncate(DISK_SIZE_MIB * 1024 * 1024)
    for cmd in (["mkfs.ext4", "-q", "-F", "-L", "homelab-root", "-d", str(rootfs), str(raw)],
                ["qemu-img", "convert", "-O", "qcow2", str(raw), str(qcow2)]):
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise LabError(f"{cmd[0]} failed: {podman.last_line(proc.stderr or proc.stdout)}")
    raw.unlink()
