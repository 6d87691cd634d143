"""The kubelet TEST DOUBLE (tests/doubles/kubelet) refuses the command lines the real kubelet refuses.

It runs with the flags of the kubelet package's 10-kubeadm.conf drop-in and of kubeadm-flags.env;
the rules are the 1.36 kubelet's (cmd/kubelet/app/options ValidateKubeletFlags).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.doubles import HERE

KUBELET = HERE / "kubelet"
DROP_IN = HERE / "10-kubeadm.conf"


def _kubelet(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBELET_DOUBLE_ROOT": str(root), "KUBELET_DOUBLE_CHECK": "1"}
    return subprocess.run([sys.executable, str(KUBELET), *args], env=env, capture_output=True, text=True, check=False)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "var/lib/kubelet").mkdir(parents=True)
    (tmp_path / "var/lib/kubelet/config.yaml").write_text("kind: KubeletConfiguration\n")
    return tmp_path


def _unit_args() -> list[str]:
    """The flags 10-kubeadm.conf passes besides KUBELET_KUBEADM_ARGS."""
    text = DROP_IN.read_text()
    args = []
    for name in ("KUBELET_KUBECONFIG_ARGS", "KUBELET_CONFIG_ARGS"):
        line = next(x for x in text.splitlines() if f'Environment="{name}=' in x)
        args += line.split("=", 2)[2].rstrip('"').split()
    return args


def test_header_says_it_is_a_double() -> None:
    assert "TEST DOUBLE of kubelet" in KUBELET.read_text().split('"""')[1]
    assert "TEST DOUBLE" in DROP_IN.read_text().splitlines()[0]


def test_the_drop_in_passes_kubeadm_flags() -> None:
    text = DROP_IN.read_text()
    assert "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env" in text
    assert "$KUBELET_KUBEADM_ARGS" in text.splitlines()[-1]
    assert _unit_args() == ["--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
                            "--kubeconfig=/etc/kubernetes/kubelet.conf", "--config=/var/lib/kubelet/config.yaml"]


@pytest.mark.parametrize("labels", [
    "disk=ssd", "disk=ssd,zone=lab", "node.kubernetes.io/instance-type=nuc", "kubernetes.io/arch=amd64",
    "topology.kubernetes.io/zone=attic", "example.com/role=storage", "kubelet.kubernetes.io/x=y", "empty=",
])
def test_accepts_labels_the_kubelet_may_set(root: Path, labels: str) -> None:
    result = _kubelet(root, *_unit_args(), "--node-ip=192.168.10.11", f"--node-labels={labels}")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("labels", "message"), [
    ("node-role.kubernetes.io/worker=", "unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels:"
                                        " [node-role.kubernetes.io/worker]"),
    ("disk=ssd,foo.k8s.io/bar=x", "[foo.k8s.io/bar]"),
    ("bad key=x", "invalid node labels: 'bad key'"),
    ("disk=a b", "invalid node labels: 'a b'"),
    ("-disk=x", "invalid node labels"),
])
def test_refuses_labels_the_kubelet_refuses(root: Path, labels: str, message: str) -> None:
    result = _kubelet(root, *_unit_args(), f"--node-labels={labels}")
    assert result.returncode == 1
    assert message in result.stderr and 'run.go:72] "command failed"' in result.stderr


def test_refuses_unknown_flags_a_bad_node_ip_and_a_missing_config(root: Path, tmp_path: Path) -> None:
    assert "unknown flag: --frobnicate" in _kubelet(root, "--frobnicate=1").stderr
    assert "failed to parse --node-ip \\\"nope" in _kubelet(root, *_unit_args(), "--node-ip=nope").stderr
    (root / "var/lib/kubelet/config.yaml").unlink()
    missing = _kubelet(root, *_unit_args())
    assert missing.returncode == 1 and "failed to load kubelet config file" in missing.stderr


def test_version(root: Path) -> None:
    assert _kubelet(root, "--version").stdout == "Kubernetes v1.36.3\n"
