"""`homelab-ctl up` on a 3 control plane + 2 worker lab: real SSH, real Ansible, containerd really
installed from Debian's packages.

TEST DOUBLES (no Kubernetes packages, images or API server can be had here):
- kubeadm and kubelet on the machines are tests/doubles/kubeadm and tests/doubles/kubelet (strict
  about subcommands, flags and v1beta4 files; they record every call in /var/log/kubeadm-double.log);
- the Kubernetes API that Flannel is applied to and nodes are awaited on is tests/doubles/apiserver.py,
  reached with `up --api-server`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from homelab_ctl.lab import podman
from homelab_ctl.lab.model import Lab
from tests.doubles.apiserver import KubeApiDouble, node, pod, serve

REPO = Path(__file__).resolve().parents[2]
MIRROR = REPO / "tests" / "fixtures" / "mirror"
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.lab


def _exec(lab: Lab, machine: str, *cmd: str) -> str:
    return podman.run(["exec", lab.machine(machine).name, *cmd]).stdout


def _calls(lab: Lab, machine: str) -> list[dict[str, Any]]:
    text = _exec(lab, machine, "sh", "-c", "cat /var/log/kubeadm-double.log 2>/dev/null || true")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _subcommands(lab: Lab, machine: str) -> list[str]:
    """The mutating kubeadm calls made on a machine, e.g. ['init', 'token create']."""
    out = []
    for call in _calls(lab, machine):
        argv = [a for a in call["argv"][1:] if not a.startswith("-")]
        if argv[:1] == ["token"]:
            name = " ".join(argv[:2])
        elif argv[:2] == ["init", "phase"]:
            name = " ".join(argv[:3])
        else:
            name = argv[0] if argv else ""
        if name in {"init", "join", "token create", "init phase upload-certs"} and call.get("rc") == 0:
            out.append(name)
    return out


def _fingerprints(lab: Lab, machine: str) -> set[str]:
    text = _exec(lab, machine, "sh", "-c", "cat /var/lib/kubeadm-double/*.jsonl 2>/dev/null || true")
    return {json.loads(line)["sha256"] for line in text.splitlines() if line.strip()}


def _up(spec: Path, api: KubeApiDouble, *extra: str, mirror: Path | None = None) -> subprocess.CompletedProcess[str]:
    """up with the doubles copied in place (default) or, given a mirror with the fake packages,
    installed and held by the kube_packages role from it."""
    env = {**os.environ, "COLUMNS": "160", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    source = ["--artifacts", str(mirror)] if mirror else ["-e", "kube_packages_install=false", "--artifacts",
                                                          str(MIRROR)]
    return subprocess.run(
        [str(BIN / "homelab-ctl"), "up", "-f", str(spec), "--yes", *source, "--api-server", api.url, *extra],
        capture_output=True, text=True, env=env, check=False, timeout=1500)


@pytest.fixture(scope="module")
def lab5(make_lab: Any) -> Lab:
    lab: Lab = make_lab(control_planes=3, workers=2)
    return lab


@pytest.fixture(scope="module")
def api(lab5: Lab) -> Iterator[KubeApiDouble]:
    """The API double: it reports the lab's nodes Ready (the kubelet double runs nothing)."""
    with serve() as double:
        double.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})
        for machine in lab5.machines:
            double.add(node(machine.name, ready=True))
        double.add(pod("kube-apiserver", "kube-system", "Running", ready=True))
        yield double


@pytest.fixture(scope="module")
def specs(lab5: Lab, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(spec without w2, full spec), in one directory so they share the cluster state."""
    data = yaml.safe_load(lab5.spec_path.read_text())
    w2 = lab5.machine("w2").name
    first = dict(data, spec=dict(data["spec"], nodes=[n for n in data["spec"]["nodes"] if n["name"] != w2]))
    directory = lab5.spec_path.parent
    partial = directory / "cluster-without-w2.yaml"
    partial.write_text(yaml.safe_dump(first, sort_keys=False))
    # install the doubles in place of the Kubernetes packages (test-only play)
    inventory = tmp_path_factory.mktemp("inv")
    subprocess.run([str(BIN / "homelab-ctl"), "render", "-f", str(lab5.spec_path), "-o", str(inventory)], check=True,
                   capture_output=True)
    install = REPO / "tests" / "doubles" / "install.yml"
    result = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(install)],
                            capture_output=True, text=True, check=False, cwd=REPO,
                            env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"})
    assert result.returncode == 0, result.stdout[-3000:]
    return partial, lab5.spec_path


def _no_secret_leaked(lab: Lab, spec: Path, console: str) -> None:
    state = spec.parent / ".homelab-ctl" / yaml.safe_load(spec.read_text())["metadata"]["name"]
    key = (state / "secrets" / "encryption-key").read_text().strip()
    logs = "".join(p.read_text(errors="replace") for p in (state / "logs").glob("*.log"))
    issued = set().union(*(_fingerprints(lab, m.name) for m in lab.machines))
    for where, text in (("console", console), ("log", logs)):
        assert key not in text, f"encryption key in the {where}"
        candidates = re.findall(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b", text) + re.findall(r"\b[0-9a-f]{64}\b", text)
        leaked = [c for c in candidates if hashlib.sha256(c.encode()).hexdigest() in issued]
        assert not leaked, f"join token or certificate key in the {where}"


def test_up_builds_the_cluster_then_changes_nothing_then_joins_a_new_worker(
        lab5: Lab, api: KubeApiDouble, specs: tuple[Path, Path]) -> None:
    partial, full = specs

    first = _up(partial, api)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    assert _subcommands(lab5, "cp1").count("init") == 1
    for cp in ("cp2", "cp3"):
        joins = [c for c in _calls(lab5, cp) if c["argv"][1:2] == ["join"]]
        assert len(joins) == 1 and joins[0]["notes"]["control_plane"] is True
    assert _subcommands(lab5, "w1") == ["join"]
    assert _subcommands(lab5, "w2") == []
    assert any(c.path.endswith("/daemonsets/kube-flannel-ds") for c in api.patches())
    _no_secret_leaked(lab5, partial, first.stdout + first.stderr)

    before = {m: len(_calls(lab5, m)) for m in ("cp1", "cp2", "cp3", "w1")}
    second = _up(partial, api)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-4000:]
    assert "nothing to do: the cluster already matches the spec" in second.stdout
    assert second.stdout.count("skipped: nothing drifted") == 3, second.stdout[-3000:]
    after = {m: [c["argv"][1] for c in _calls(lab5, m)[before[m]:]] for m in before}
    assert all(not {"init", "join", "token"} & set(argv) for argv in after.values()), after

    third = _up(full, api)
    assert third.returncode == 0, third.stdout[-4000:] + third.stderr[-4000:]
    assert _subcommands(lab5, "w2") == ["join"]
    assert _subcommands(lab5, "cp1").count("init") == 1
    _no_secret_leaked(lab5, full, third.stdout + third.stderr)


def _start_up(spec: Path, api: KubeApiDouble) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "160", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.Popen(
        [str(BIN / "homelab-ctl"), "up", "-f", str(spec), "--yes", "-e", "kube_packages_install=false",
         "--artifacts", str(MIRROR), "--api-server", api.url, "--full"],  # --full: the stages run
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_stage_log(spec: Path, stage: str, since: float, proc: subprocess.Popen[str]) -> None:
    logs = spec.parent / ".homelab-ctl" / yaml.safe_load(spec.read_text())["metadata"]["name"] / "logs"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.stat().st_mtime >= since for p in logs.glob(f"*-{stage}.log")):
            return
        time.sleep(0.2)
    raise AssertionError(f"stage {stage} did not start")


def test_machine_lost_mid_run_and_ctrl_c_then_up_converges(
        lab5: Lab, api: KubeApiDouble, specs: tuple[Path, Path]) -> None:
    """A machine stopped while a stage runs: the error names it, the stage and the log (exit 5).
    Ctrl-C during a stage exits 130. After both, `up` converges."""
    from homelab_ctl.lab import machines

    _, full = specs
    w2 = lab5.machine("w2")
    started = time.time()
    proc = _start_up(full, api)
    try:
        _wait_for_stage_log(full, "prepare", started, proc)
        time.sleep(1)
        machines.stop(lab5, w2, timeout=0)
        out, err = proc.communicate(timeout=900)
    finally:
        proc.kill()
        machines.start(lab5, w2)
    assert proc.returncode == 5, out[-3000:] + err[-3000:]
    message = err.strip().splitlines()
    assert any("prepare" in line and w2.name in line and "log:" in line for line in message), err[-3000:]

    started = time.time()
    proc = _start_up(full, api)
    try:
        _wait_for_stage_log(full, "prepare", started, proc)
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, out[-3000:] + err[-3000:]

    again = _up(full, api)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]
    assert _subcommands(lab5, "cp1").count("init") == 1


@pytest.fixture(scope="module")
def package_mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture mirror plus the fake Kubernetes packages (tests/doubles/fake_debs.py): with it the
    kube_packages role installs and holds the packages, so that a removed hold is drift."""
    directory = tmp_path_factory.mktemp("package-mirror")
    shutil.copytree(MIRROR, directory, dirs_exist_ok=True)
    subprocess.run([sys.executable, str(REPO / "tests" / "doubles" / "fake_debs.py"), "mirror", str(directory),
                    "--version", "1.36.3"], check=True, capture_output=True)
    return directory


@pytest.fixture(scope="module")
def converged(lab5: Lab, api: KubeApiDouble, specs: tuple[Path, Path], package_mirror: Path) -> Path:
    """The full spec converged from the package mirror; a second up runs no playbook at all."""
    _, full = specs
    first = _up(full, api, mirror=package_mirror)  # after the tests above: the inputs changed (mirror)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    again = _up(full, api, mirror=package_mirror)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]
    assert "nothing to do: the cluster already matches the spec" in again.stdout
    assert again.stdout.count("skipped: nothing drifted") == 3, again.stdout[-3000:]
    return full


# (what, machine, how to cause it, the plan's words, the owning stage, a check that it was put back)
DRIFTS = [
    ("sysctl", "w1", "sysctl -w net.ipv4.ip_forward=0", "sysctl net.ipv4.ip_forward: 0 (was 1)", "prepare",
     "test $(cat /proc/sys/net/ipv4/ip_forward) = 1"),
    ("containerd-stopped", "cp2", "systemctl stop containerd", "service containerd: inactive", "prepare",
     "systemctl is-active --quiet containerd"),
    ("hold-removed", "w2", "apt-mark unhold kubelet", "package kubelet: 1.36.3-1.1 install installed", "workers",
     "apt-mark showhold | grep -qx kubelet"),
    ("containerd-config", "cp1", "echo '# edited by hand' >> /etc/containerd/config.toml",
     "/etc/containerd/config.toml changed", "prepare", "! grep -q 'edited by hand' /etc/containerd/config.toml"),
    ("kube-vip-manifest", "cp3", "rm /etc/kubernetes/manifests/kube-vip.yaml",
     "/etc/kubernetes/manifests/kube-vip.yaml missing", "control-plane",
     "test -s /etc/kubernetes/manifests/kube-vip.yaml"),
]


@pytest.mark.parametrize(("what", "machine", "cause", "said", "stage", "fixed"), DRIFTS, ids=[d[0] for d in DRIFTS])
def test_no_op_up_notices_and_puts_back_drift(lab5: Lab, api: KubeApiDouble, converged: Path, package_mirror: Path,
                                              what: str, machine: str, cause: str, said: str, stage: str,
                                              fixed: str) -> None:
    _exec(lab5, machine, "sh", "-c", cause)
    run = _up(converged, api, mirror=package_mirror)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    lines = [line for line in run.stdout.splitlines() if f"drift on {lab5.machine(machine).name}: " in line]
    assert len(lines) == 1 and said in lines[0], run.stdout[-3000:]
    skipped = {line.split()[0] for line in run.stdout.splitlines() if "skipped: nothing drifted" in line}
    assert skipped == {"prepare", "control-plane", "workers"} - {stage}, run.stdout[-3000:]
    _exec(lab5, machine, "sh", "-c", fixed)  # raises when the check fails
    again = _up(converged, api, mirror=package_mirror)
    assert "nothing to do: the cluster already matches the spec" in again.stdout, again.stdout[-3000:]
