"""The lab machine image: a Debian 12 rootfs from debootstrap, imported into podman.

Built once and cached; machines are systemd containers started from it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from homelab_ctl.errors import LabError
from homelab_ctl.lab import paths, podman

IMAGE = "localhost/homelab-ctl-lab:bookworm"
# Bump when the image's content changes: an image with an older revision label is rebuilt.
REVISION = "2"
REVISION_LABEL = "homelab-ctl.lab.image-revision"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "python3-apt", "sudo",
            "ca-certificates", "gnupg", "curl", "iptables", "iproute2", "procps", "less")
MASKED = ("systemd-resolved.service", "systemd-timesyncd.service", "getty@tty1.service")
HOSTKEYS_UNIT = "homelab-ssh-hostkeys.service"
# Host keys are removed from the image so that every machine creates its own at first boot.
_HOSTKEYS = """\
[Unit]
Description=Generate this machine's SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
RemainAfterExit=yes

[Install]
WantedBy=ssh.service
"""

# kubelet and containerd need shared mount propagation (volumes with HostToContainer or
# Bidirectional propagation); a container's / starts private.
SHARED_UNIT = "homelab-shared-mounts.service"
_SHARED = """\
[Unit]
Description=Make / a shared mount, as on a real machine
DefaultDependencies=no
Before=containerd.service kubelet.service

[Service]
Type=oneshot
ExecStart=/bin/mount --make-rshared /
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
"""

Echo = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def exists() -> bool:
    """The image is there and of the current revision."""
    if not podman.exists("image", IMAGE):
        return False
    found = podman.json_out(["image", "inspect", IMAGE])
    labels = (found[0].get("Labels") or {}) if found else {}
    return bool(labels.get(REVISION_LABEL) == REVISION)


def ensure_image(echo: Echo = _quiet, rebuild: bool = False) -> str:
    """The image name; builds it when missing (or always with rebuild).

    Safe when several processes call it at once: they wait on a lock and the first one builds.
    """
    podman.require("podman")
    if exists() and not rebuild:
        return IMAGE
    with lock(echo, "lab-image.lock", "the lab image"):
        if exists() and not rebuild:
            echo(f"{IMAGE} was built meanwhile")
            return IMAGE
        build(echo)
    return IMAGE


@contextlib.contextmanager
def lock(echo: Echo, name: str, what: str) -> Iterator[None]:
    """An exclusive lock file in the cache directory: one build of an image at a time."""
    path = paths.cache_dir() / name
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            echo(f"another process is building {what}: waiting for it")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build(echo: Echo = _quiet) -> None:
    """debootstrap, fix what machines must not share, import. About 90 s on 2 cores."""
    podman.require("podman", "debootstrap", "tar")
    if os.geteuid() != 0:
        raise LabError("building the lab image needs root (debootstrap): run `homelab-ctl lab image` as root")
    log = paths.cache_dir() / "lab-image-build.log"
    started = time.monotonic()
    # On the disk of podman's storage, so that the import does not cross file systems.
    workdir = Path(tempfile.mkdtemp(prefix="homelab-ctl-lab-image.", dir="/var/tmp"))
    rootfs = workdir / "rootfs"
    try:
        with step(echo, f"debootstrap {SUITE} (minbase + {len(PACKAGES)} packages, log: {log})"):
            debootstrap(rootfs, log, PACKAGES)
        with step(echo, "prepare the rootfs (machine-id, SSH host keys, masked units, apt cache)"):
            prepare(rootfs)
        with step(echo, f"podman import as {IMAGE}"):
            _import(rootfs)
    finally:
        with step(echo, "remove the rootfs"):
            remove_tree(workdir)
    echo(f"built {IMAGE} in {time.monotonic() - started:.0f} s")


@contextlib.contextmanager
def step(echo: Echo, what: str) -> Iterator[None]:
    echo(f"- {what}")
    started = time.monotonic()
    yield
    echo(f"  done in {time.monotonic() - started:.1f} s")


def debootstrap(rootfs: Path, log: Path, packages: tuple[str, ...]) -> None:
    cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", SUITE, str(rootfs), MIRROR]
    with log.open("w") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = podman.last_line(log.read_text(errors="replace"))
        raise LabError(f"debootstrap failed (exit {proc.returncode}): {tail}", hint=f"full log: {log}")


def prepare(rootfs: Path) -> None:
    """Make the rootfs a template: nothing that must be unique per machine stays in it."""
    # An empty machine-id makes systemd create a fresh one in every container.
    (rootfs / "etc/machine-id").write_text("")
    (rootfs / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    for key in (rootfs / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    units = rootfs / "etc/systemd/system"
    (units / HOSTKEYS_UNIT).write_text(_HOSTKEYS)
    wants = units / "ssh.service.wants"
    wants.mkdir(parents=True, exist_ok=True)
    symlink(f"/etc/systemd/system/{HOSTKEYS_UNIT}", wants / HOSTKEYS_UNIT)
    (units / SHARED_UNIT).write_text(_SHARED)
    multi_user = units / "multi-user.target.wants"
    multi_user.mkdir(parents=True, exist_ok=True)
    symlink(f"/etc/systemd/system/{SHARED_UNIT}", multi_user / SHARED_UNIT)
    for unit in MASKED:
        symlink("/dev/null", units / unit)
    for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    lists = rootfs / "var/lib/apt/lists"
    for entry in lists.iterdir():
        if entry.is_file() or entry.is_symlink():
            entry.unlink()
    # An old mtime: otherwise Ansible's apt cache_valid_time trusts the empty cache and finds nothing.
    os.utime(lists, (0, 0))
    ssh_dir = rootfs / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    ssh_dir.chmod(0o700)


def symlink(target: str, link: Path) -> None:
    link.unlink(missing_ok=True)
    link.symlink_to(target)


def _import(rootfs: Path) -> None:
    changes = ['CMD ["/sbin/init"]', "STOPSIGNAL SIGRTMIN+3", "ENV container=podman",
               f"LABEL {REVISION_LABEL}={REVISION}"]
    args = ["import"]
    for change in changes:
        args += ["--change", change]
    tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."],
                           stdout=subprocess.PIPE)
    assert tar.stdout is not None
    try:
        podman.run([*args, "-", IMAGE], stdin=tar.stdout, timeout=600)
    finally:
        tar.stdout.close()
        code = tar.wait()
    if code != 0:
        raise LabError(f"tar of the rootfs failed (exit {code})")


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path) + "/"
    with open("/proc/self/mountinfo") as fh:
        return [line.split()[4] for line in fh if line.split()[4].startswith(prefix)]


def remove_tree(path: Path) -> None:
    """rmtree, after unmounting what a failed debootstrap may have left mounted inside (proc, sys).

    Never descends into something still mounted: it could be a host file system.
    """
    for mount in sorted(_mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
    if _mounts_under(path):
        raise LabError(f"{path} still has mounts inside: unmount them, then remove it")
    shutil.rmtree(path, ignore_errors=True)
