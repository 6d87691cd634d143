"""The kubeadm TEST DOUBLE against the real kubeadm, where a real binary is at hand.

The real kubeadm is built from its Go module (scripts/check-real's recipes); point
HOMELAB_REAL_KUBEADM at it (default: /var/tmp/hlbuild/bin/kubeadm when it exists), else these tests
are skipped. Only `--help`, `version`, `config validate` and `--dry-run` phases writing into a
temporary KUBEADM_INIT_DRYRUN_DIR are run: nothing that touches the host.
The double must accept the flags the real one has for the commands it emulates, and give the same
verdict as `kubeadm config validate` on the configurations the roles render (and broken variants).
"""

from __future__ import annotations

import base64
import copy
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from homelab_ctl.render import kubeadm
from homelab_ctl.spec import load
from tests.doubles import KUBEADM, kubeadm_double

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "specs" / "valid"
SECRETS = kubeadm.Secrets(token="abcdef.0123456789abcdef", ca_cert_hash="sha256:" + "a" * 64,
                          certificate_key="b" * 64, encryption_key=base64.b64encode(bytes(range(32))).decode())


SLOW_MACHINES = yaml.safe_load((Path(__file__).resolve().parents[3] / "playbooks/vars/slow-machines.yml").read_text())


def _real() -> Path | None:
    given = os.environ.get("HOMELAB_REAL_KUBEADM", "/var/tmp/hlbuild/bin/kubeadm")
    found = Path(given)
    return found if found.is_file() and os.access(found, os.X_OK) else None


REAL = _real()
pytestmark = pytest.mark.skipif(REAL is None, reason="no real kubeadm (set HOMELAB_REAL_KUBEADM)")


def _run(binary: Path, *args: str, python: bool = False) -> subprocess.CompletedProcess[str]:
    argv = [str(binary), *args]
    if python:
        import sys

        argv.insert(0, sys.executable)
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)


def real_flags(command: tuple[str, ...]) -> dict[str, str]:
    """--long -> value|bool|slice, from `kubeadm <command> --help` (Flags and Global Flags)."""
    assert REAL is not None
    text = _run(REAL, *command, "--help").stdout
    flags: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"^\s+(?:-(\w), )?--([a-z0-9-]+)(?: (\w+))?\s{2,}", line)
        if not m:
            continue
        short, name, kind = m.groups()
        if name == "help":
            continue
        flags[f"--{name}"] = "bool" if kind is None else "slice" if kind == "strings" else "value"
        if short:
            flags[f"-{short}"] = f"--{name}"
    return flags


@pytest.mark.parametrize("command", sorted(kubeadm_double().COMMANDS), ids=" ".join)
def test_the_double_has_the_flags_of_kubeadm(command: tuple[str, ...]) -> None:
    double = kubeadm_double()
    ours = {**double.GLOBAL_FLAGS, **double.COMMANDS[command]}
    theirs = real_flags(command)
    long = {k: v for k, v in theirs.items() if k.startswith("--")}
    assert ours == long
    for short, target in ((k, v) for k, v in theirs.items() if not k.startswith("--")):
        assert double.SHORTHANDS.get(short) == target


def test_the_double_reports_the_version_of_kubeadm(tmp_path: Path) -> None:
    assert REAL is not None
    real = _run(REAL, "version", "-o", "short").stdout.strip()
    env = {**os.environ, "KUBEADM_DOUBLE_ROOT": str(tmp_path)}
    (tmp_path / "etc/kubeadm-double").mkdir(parents=True)
    (tmp_path / "etc/kubeadm-double/version").write_text(real + "\n")
    import sys

    ours = subprocess.run([sys.executable, str(KUBEADM), "version", "-o", "short"], env=env, capture_output=True,
                          text=True, check=False).stdout.strip()
    assert ours == real


def _lab_spec() -> Any:
    import tempfile

    text = (FIXTURES / "3cp-2w-vip.yaml").read_text()
    assert "\n  kubernetes:\n" in text
    text = text.replace("\n  kubernetes:\n", "\n  kubernetes:\n    containerNodes: true\n    failCgroupV1: false\n", 1)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "lab.yaml"
        spec.write_text(text)
        return load(spec)


def _variants() -> list[tuple[str, str]]:
    """(name, file content): every node's configuration of every valid spec, and broken variants."""
    out: list[tuple[str, str]] = []
    for spec in sorted(FIXTURES.glob("*.yaml")):
        loaded = load(spec)
        for node in loaded.cluster.spec.nodes:
            out.append((f"{spec.stem}/{node.name}", kubeadm.node_config(loaded, node.name, SECRETS)))
    lab = _lab_spec()
    for node in lab.cluster.spec.nodes:  # container nodes, cgroup v1 allowed: the lab's kubelet settings
        out.append((f"lab/{node.name}", kubeadm.node_config(lab, node.name, SECRETS)))
    loaded = load(FIXTURES / "3cp-2w-vip.yaml")
    slow = {"homelab_kubeadm_timeouts": {"controlPlaneComponentHealthCheck": "15m0s", "kubeletHealthCheck": "10m0s",
                                         "discovery": "10m0s"}}
    for host in ("cp1", "cp2", "w1"):  # -e homelab_kubeadm_timeouts: init and join
        out.append((f"timeouts/{host}", kubeadm.node_config(loaded, host, SECRETS, extra_vars=slow)))
    for host in ("cp1", "cp2", "w1"):  # -e @playbooks/vars/slow-machines.yml: timeouts and patches
        out.append((f"slow-machines/{host}", kubeadm.node_config(loaded, host, SECRETS, extra_vars=SLOW_MACHINES)))
    init = [d for d in yaml.safe_load_all(kubeadm.node_config(loaded, "cp1", SECRETS)) if d]
    join = [d for d in yaml.safe_load_all(kubeadm.node_config(loaded, "cp2", SECRETS)) if d]

    def variant(name: str, docs: list[dict[str, Any]], change: Any) -> None:
        docs = copy.deepcopy(docs)
        change(docs)
        out.append((name, yaml.safe_dump_all(docs)))

    variant("unknown-field", init, lambda d: d[1].update(bogus=1))
    variant("unknown-kubelet-field", init, lambda d: d[2].update(bogus=1))
    variant("unknown-kind", init, lambda d: d.append({"apiVersion": "example.com/v1", "kind": "Widget"}))
    variant("duplicate-kind", init, lambda d: d.append(copy.deepcopy(d[0])))
    variant("all-and-others", init, lambda d: d[0]["nodeRegistration"].update(ignorePreflightErrors=["all", "Swap"]))
    variant("old-version", init, lambda d: d[1].update(kubernetesVersion="v1.34.0"))
    variant("v1beta3", init, lambda d: [x.update(apiVersion="kubeadm.k8s.io/v1beta3") for x in d[:2]])
    variant("extra-args-map", init, lambda d: d[1]["apiServer"].update(extraArgs={"a": "b"}))
    variant("bootstrap-token-ttl", init, lambda d: d[0].update(bootstrapTokens=[{"ttl": "10m"}]))
    variant("bad-bootstrap-token", init, lambda d: d[0].update(bootstrapTokens=[{"token": "nope"}]))
    variant("empty-cert-key", join, lambda d: d[0]["controlPlane"].update(certificateKey=""))
    variant("upper-cert-key", join, lambda d: d[0]["controlPlane"].update(certificateKey="AB" * 32))
    variant("bad-cert-key", join, lambda d: d[0]["controlPlane"].update(certificateKey="xyz"))
    variant("short-cert-key", join, lambda d: d[0]["controlPlane"].update(certificateKey="ab" * 16))
    variant("bad-token", join, lambda d: d[0]["discovery"]["bootstrapToken"].update(token="ABCDEF.0123456789abcdef"))
    variant("no-ca-hash", join, lambda d: d[0]["discovery"]["bootstrapToken"].update(caCertHashes=[]))
    variant("md5-ca-hash", join, lambda d: d[0]["discovery"]["bootstrapToken"].update(caCertHashes=["md5:00"]))
    variant("join-all-and-others", join, lambda d: d[0]["nodeRegistration"].update(
        ignorePreflightErrors=["all", "DirAvailable--etc-kubernetes-manifests"]))
    variant("join-with-init-kinds", join, lambda d: d.extend(init))
    rendered = kubeadm.node_config(loaded, "cp1", SECRETS)
    out.append(("comment-first", "# header\n" + rendered.removeprefix("---\n")))
    out.append(("blank-first", "\n" + rendered))
    out.append(("separator-trailer", rendered.replace("---\n", "--- x\n", 1)))
    return out


VARIANTS = _variants() if REAL is not None else []


@pytest.mark.parametrize(("name", "content"), VARIANTS, ids=[n for n, _ in VARIANTS])
def test_config_validate_agrees_with_kubeadm(tmp_path: Path, name: str, content: str) -> None:
    assert REAL is not None
    file = tmp_path / "config.yaml"
    file.write_text(content)
    real = _run(REAL, "config", "validate", "--config", str(file))
    env = {**os.environ, "KUBEADM_DOUBLE_ROOT": str(tmp_path / "root")}
    import sys

    ours = subprocess.run([sys.executable, str(KUBEADM), "config", "validate", "--config", str(file)], env=env,
                          capture_output=True, text=True, check=False)
    assert (ours.returncode == 0) == (real.returncode == 0), f"real: {real.stderr}\ndouble: {ours.stderr}"
    if not name.count("/"):  # the broken variants: the rendered configurations must pass both
        return
    assert real.returncode == 0, real.stderr


def test_the_slow_machines_patches_reach_the_manifests_kubeadm_writes(tmp_path: Path) -> None:
    """playbooks/vars/slow-machines.yml, written as kube_packages writes it and named by the rendered
    init configuration, is what the real kubeadm applies to the static pods it writes."""
    import json

    assert REAL is not None
    patches = tmp_path / "patches"
    patches.mkdir()
    for name, patch in SLOW_MACHINES["homelab_kubeadm_patches"].items():
        (patches / name).write_text(json.dumps(patch, indent=2) + "\n")  # to_nice_json, as the role
    loaded = load(FIXTURES / "3cp-2w-vip.yaml")
    config = tmp_path / "config.yaml"
    config.write_text(kubeadm.node_config(loaded, "cp1", SECRETS,
                                          extra_vars={**SLOW_MACHINES, "kubeadm_init_patches_dir": str(patches)}))
    dry = tmp_path / "dry"
    dry.mkdir()
    env = {**os.environ, "KUBEADM_INIT_DRYRUN_DIR": str(dry)}
    for phase in (("control-plane", "all"), ("etcd", "local")):
        done = subprocess.run([str(REAL), "init", "phase", *phase, "--config", str(config), "--dry-run"], env=env,
                              capture_output=True, text=True, check=False, timeout=60)
        assert done.returncode == 0, done.stderr
        assert f'Reading patches from path "{patches}"' in done.stdout
    pods = {p.stem: yaml.safe_load(p.read_text()) for p in dry.glob("*.yaml")}
    assert set(pods) == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}
    for name, pod in pods.items():
        container = pod["spec"]["containers"][0]
        assert container["startupProbe"]["failureThreshold"] == 120, name
        assert container["livenessProbe"]["timeoutSeconds"] == 60, name
    command = {name: pod["spec"]["containers"][0]["command"] for name, pod in pods.items()}
    assert "--election-timeout=5000" in command["etcd"]
    assert "--etcd-healthcheck-timeout=30s" in command["kube-apiserver"]
    assert "--leader-elect-lease-duration=120s" in command["kube-scheduler"]
    assert "--node-monitor-grace-period=180s" in command["kube-controller-manager"]
