"""The real tier: Kubernetes built from its Go modules (homelab-ctl mirror build), installed by the
product's own offline path on lab machines, driven by `homelab-ctl up`.

Needs HOMELAB_MIRROR (a built mirror; scripts/check-real builds or reuses one) and root (podman).
Every test here is marked `real`; scripts/check leaves them to scripts/check-real.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from homelab_ctl.lab import machines
from homelab_ctl.lab.model import Lab
from homelab_ctl.mirror import layout
from tests.integration.conftest import unique_name

EXE = [sys.executable, "-m", "homelab_ctl"]
UP_TIMEOUT = 3600


def mirror() -> Path:
    value = os.environ.get("HOMELAB_MIRROR", "")
    if not value or not (Path(value) / layout.IMAGES_DIR / layout.IMAGES_LIST).is_file():
        pytest.skip("the real tier needs HOMELAB_MIRROR=<a mirror built by `homelab-ctl mirror build`> "
                    "(scripts/check-real builds one)")
    return Path(value)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/real/" in str(item.fspath):
            item.add_marker(pytest.mark.real)


@dataclass
class Run:
    returncode: int
    output: str
    seconds: float


def up(spec: Path, *extra: str, timeout: float = UP_TIMEOUT) -> Run:
    """`homelab-ctl up --yes` on a lab spec (the mirror is in the spec), output kept for asserts."""
    started = time.monotonic()
    proc = subprocess.run([*EXE, "up", "-f", str(spec), "--yes", *extra], capture_output=True, text=True,
                          timeout=timeout, check=False)
    return Run(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)


def up_until(spec: Path, ready: Callable[[], bool], poll: float = 1.0, timeout: float = 1800,
             kill: bool = True) -> Run:
    """Start `up` in its own process group; once ready() says so, kill the whole group (SIGKILL: no
    cleanup at all, as when the admin machine dies), or with kill=False let it end by itself.
    Returns what it printed."""
    started = time.monotonic()
    log = spec.parent / f"up-killed-{int(started)}.log"
    with log.open("w") as fh:
        proc = subprocess.Popen([*EXE, "up", "-f", str(spec), "--yes"], stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            while time.monotonic() - started < timeout:
                if proc.poll() is not None:
                    break
                if ready():
                    if kill:
                        os.killpg(proc.pid, signal.SIGKILL)
                    else:
                        proc.wait(timeout=max(1.0, timeout - (time.monotonic() - started)))
                    break
                time.sleep(poll)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return Run(proc.returncode, log.read_text(errors="replace"), time.monotonic() - started)


def on(machine: str, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """A command inside a lab machine (as root, like SSH would run it)."""
    return subprocess.run(["podman", "exec", machine, *command], capture_output=True, text=True, timeout=timeout,
                          check=False, env={**os.environ, **_podman_env()})


def _podman_env() -> dict[str, str]:
    from homelab_ctl.lab import podman

    return {"CONTAINERS_CONF": podman.env()["CONTAINERS_CONF"]}


def kubeadm_running(machine: str) -> bool:
    return on(machine, "pgrep", "-x", "kubeadm").returncode == 0


@dataclass
class Labs:
    names: list[str] = field(default_factory=list)

    def make(self, control_planes: int, workers: int, tmp: Path) -> Lab:
        name = unique_name("r")
        self.names.append(name)
        return machines.up(name, control_planes, workers, tmp / name, mirror=mirror())


@pytest.fixture(scope="session")
def labs() -> Iterator[Labs]:
    made = Labs()
    yield made
    if os.environ.get("HOMELAB_KEEP_LABS"):
        return
    for name in made.names:
        machines.down(name)


def kubectl(kubeconfig: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    kubectl_bin = os.environ.get("KUBECTL", "kubectl")
    return subprocess.run([kubectl_bin, "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
