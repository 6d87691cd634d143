"""Turning a debootstrapped rootfs into a machine template (on a fake rootfs: no debootstrap)."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

from homelab_ctl.lab import image, podman


def _rootfs(root: Path) -> Path:
    for d in ("etc/ssh", "etc/systemd/system", "var/lib/dbus", "var/cache/apt/archives",
              "var/lib/apt/lists/partial", "root"):
        (root / d).mkdir(parents=True)
    (root / "etc/machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    (root / "var/lib/dbus/machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    for key in ("ssh_host_ed25519_key", "ssh_host_ed25519_key.pub", "ssh_host_rsa_key"):
        (root / "etc/ssh" / key).write_text("key")
    (root / "etc/ssh/sshd_config").write_text("")
    (root / "var/cache/apt/archives/curl_7.88_amd64.deb").write_text("deb")
    (root / "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease").write_text("x")
    return root


def test_prepare_removes_what_machines_must_not_share(tmp_path: Path) -> None:
    root = _rootfs(tmp_path / "rootfs")
    image.prepare(root)
    assert (root / "etc/machine-id").read_text() == ""
    assert not (root / "var/lib/dbus/machine-id").exists()
    assert sorted(p.name for p in (root / "etc/ssh").iterdir()) == ["sshd_config"]
    units = root / "etc/systemd/system"
    assert "ExecStart=/usr/bin/ssh-keygen -A" in (units / image.HOSTKEYS_UNIT).read_text()
    assert "Before=ssh.service" in (units / image.HOSTKEYS_UNIT).read_text()
    wanted = units / "ssh.service.wants" / image.HOSTKEYS_UNIT
    assert os.readlink(wanted) == f"/etc/systemd/system/{image.HOSTKEYS_UNIT}"
    for unit in ("systemd-resolved.service", "systemd-timesyncd.service", "getty@tty1.service"):
        assert os.readlink(units / unit) == "/dev/null"
    assert list((root / "var/cache/apt/archives").glob("*.deb")) == []
    lists = root / "var/lib/apt/lists"
    assert [p.name for p in lists.iterdir()] == ["partial"]
    assert lists.stat().st_mtime == 0  # apt's cache_valid_time must see a stale cache
    assert stat.S_IMODE((root / "root/.ssh").stat().st_mode) == 0o700


def test_prepare_twice_is_harmless(tmp_path: Path) -> None:
    root = _rootfs(tmp_path / "rootfs")
    image.prepare(root)
    image.prepare(root)
    assert os.readlink(root / "etc/systemd/system/getty@tty1.service") == "/dev/null"


def test_image_name_is_one_constant() -> None:
    assert image.IMAGE == "localhost/homelab-ctl-lab:bookworm"
    assert "openssh-server" in image.PACKAGES and "python3-apt" in image.PACKAGES


def test_concurrent_callers_build_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes (here threads, each with its own lock file handle) asking at once: one builds."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(podman, "require", lambda *tools: None)
    built: list[int] = []
    monkeypatch.setattr(image, "exists", lambda: bool(built))

    def build(echo: image.Echo) -> None:
        time.sleep(0.3)
        built.append(1)

    monkeypatch.setattr(image, "build", build)
    threads = [threading.Thread(target=image.ensure_image) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert built == [1]
    assert image.ensure_image() == image.IMAGE


def test_prepare_makes_root_mount_shared_at_boot(tmp_path: Path) -> None:
    """kubelet volumes with mount propagation need / shared; a container's / starts private."""
    root = _rootfs(tmp_path / "rootfs")
    image.prepare(root)
    unit = (root / "etc/systemd/system" / image.SHARED_UNIT).read_text()
    assert "mount --make-rshared /" in unit and "Before=containerd.service kubelet.service" in unit
    link = root / "etc/systemd/system/multi-user.target.wants" / image.SHARED_UNIT
    assert os.readlink(link) == f"/etc/systemd/system/{image.SHARED_UNIT}"
