"""The kubeadm TEST DOUBLE (tests/doubles/kubeadm) holds the roles to kubeadm's contract.

These tests run the double itself in a temporary root (KUBEADM_DOUBLE_ROOT): it must refuse what
the real kubeadm refuses (unknown flags and fields, wrong types, a second init, a bad token) and
write the files the roles rely on. Its configurations come from the real renderer
(homelab_ctl.render.kubeadm), i.e. from the roles' templates.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from homelab_ctl.render import kubeadm
from homelab_ctl.spec import load
from tests.doubles import KUBEADM

SPEC = Path(__file__).resolve().parents[2] / "fixtures" / "specs" / "valid" / "3cp-2w-vip.yaml"
KEY = base64.b64encode(bytes(range(32))).decode()
SECRETS = kubeadm.Secrets(token="abcdef.0123456789abcdef", ca_cert_hash="sha256:" + "a" * 64,
                          certificate_key="b" * 64, encryption_key=KEY)


class Node:
    """One machine for the double: a root directory, its log, a way to call kubeadm."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def kubeadm(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBEADM_DOUBLE_ROOT": str(self.root)}
        return subprocess.run([sys.executable, str(KUBEADM), *args], env=env, capture_output=True, text=True,
                              check=False)

    def path(self, p: str) -> Path:
        return self.root / p.lstrip("/")

    def calls(self) -> list[dict]:
        log = self.path("/var/log/kubeadm-double.log")
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def write(self, p: str, text: str) -> Path:
        target = self.path(p)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target


@pytest.fixture(scope="module")
def loaded():
    return load(SPEC)


@pytest.fixture
def cp1(tmp_path: Path, loaded) -> Node:
    node = Node(tmp_path / "cp1")
    node.write("/etc/kubernetes/encryption/config.yaml", kubeadm.encryption_config(loaded, SECRETS) or "")
    node.write("/tmp/kubeadm-config.yaml", kubeadm.node_config(loaded, "cp1", SECRETS))
    return node


def _config(node: Node, loaded, host: str, mutate=None) -> str:
    text = kubeadm.node_config(loaded, host, SECRETS)
    if mutate:
        docs = [d for d in yaml.safe_load_all(text) if d]
        mutate(docs)
        text = yaml.safe_dump_all(docs)
    return str(node.write(f"/tmp/{host}.yaml", text))


def test_header_says_it_is_a_double() -> None:
    assert "TEST DOUBLE of kubeadm" in KUBEADM.read_text().split('"""')[1]


@pytest.mark.parametrize(("args", "message"), [
    (["init", "--config", "x", "--bogus"], "unknown flag: --bogus"),
    (["token", "list"], 'unknown command "list" for "kubeadm token"'),
    (["frobnicate"], 'unknown command "frobnicate" for "kubeadm"'),
    (["reset", "-x"], "unknown shorthand flag: 'x' in -x"),
    (["version", "-o", "yaml"], "invalid output format: yaml"),
    (["join"], "kubeadm join without it is not part of the contract"),
    (["init", "--config"], "flag needs an argument: --config"),
])
def test_rejects_what_it_does_not_know_and_records_it(tmp_path: Path, args: list[str], message: str) -> None:
    node = Node(tmp_path)
    result = node.kubeadm(*args)
    assert result.returncode == 1
    assert message in result.stderr
    (call,) = node.calls()
    assert call["argv"] == ["kubeadm", *args] and call["rc"] == 1 and call["time"] >= call["started"]


def test_version_comes_from_the_installed_version_file(tmp_path: Path) -> None:
    node = Node(tmp_path)
    assert node.kubeadm("version", "-o", "short").stdout == "v1.36.3\n"
    node.write("/etc/kubeadm-double/version", "v1.35.1\n")
    assert node.kubeadm("version", "--output=short").stdout == "v1.35.1\n"


def test_init_writes_what_kubeadm_writes_and_refuses_a_second_init(cp1: Node) -> None:
    result = cp1.kubeadm("init", "--config", str(cp1.path("/tmp/kubeadm-config.yaml")), "--upload-certs")
    assert result.returncode == 0, result.stderr
    for conf in ("admin.conf", "super-admin.conf", "kubelet.conf", "controller-manager.conf", "scheduler.conf"):
        kubeconfig = yaml.safe_load(cp1.path(f"/etc/kubernetes/{conf}").read_text())
        assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://192.168.10.50:6443"
        assert oct(cp1.path(f"/etc/kubernetes/{conf}").stat().st_mode & 0o777) == "0o600"
    for pod in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        assert yaml.safe_load(cp1.path(f"/etc/kubernetes/manifests/{pod}.yaml").read_text())["kind"] == "Pod"
    apiserver = yaml.safe_load(cp1.path("/etc/kubernetes/manifests/kube-apiserver.yaml").read_text())
    command = apiserver["spec"]["containers"][0]["command"]
    assert "--encryption-provider-config=/etc/kubernetes/encryption/config.yaml" in command
    flags = cp1.path("/var/lib/kubelet/kubeadm-flags.env").read_text()
    assert "--node-ip=192.168.10.11" in flags
    sans = subprocess.run(["openssl", "x509", "-in", str(cp1.path("/etc/kubernetes/pki/apiserver.crt")), "-noout",
                           "-ext", "subjectAltName"], capture_output=True, text=True, check=True).stdout
    for san in ("IP Address:192.168.10.50", "DNS:cp2", "IP Address:192.168.10.13", "IP Address:10.96.0.1"):
        assert san in sans
    (call,) = cp1.calls()
    assert [c["kind"] for c in call["config"]] == ["InitConfiguration", "ClusterConfiguration",
                                                    "KubeletConfiguration", "KubeProxyConfiguration"]
    assert call["notes"]["encryption_config_mode"] is not None

    again = cp1.kubeadm("init", "--config", str(cp1.path("/tmp/kubeadm-config.yaml")), "--upload-certs")
    assert again.returncode == 1
    assert "[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]" in again.stderr
    assert "[ERROR DirAvailable--var-lib-etcd]" in again.stderr


def test_the_ca_hash_of_the_roles_matches_the_double_ca(cp1: Node) -> None:
    """The pipeline of roles/kubeadm_join/tasks/secrets.yml, on the CA the double made, gives the
    hash the double prints in its join command (as kubeadm does)."""
    printed = cp1.kubeadm("init", "--config", str(cp1.path("/tmp/kubeadm-config.yaml"))).stdout
    (expected,) = re.findall(r"--discovery-token-ca-cert-hash sha256:([0-9a-f]{64})", printed)
    ca = cp1.path("/etc/kubernetes/pki/ca.crt")
    pipeline = (f"set -o pipefail && openssl x509 -in {ca} -noout -pubkey | openssl pkey -pubin -outform DER"
                " | sha256sum | cut -d ' ' -f 1")
    ours = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, check=True).stdout.strip()
    assert ours == expected


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d[0].update(apiVersion="kubeadm.k8s.io/v1beta3"), "only kubeadm.k8s.io/v1beta4"),
    (lambda d: d[1]["apiServer"].update(extraArgs={"encryption-provider-config": "/x"}),
     "expected a list, got dict (v1beta4 takes extraArgs as a list of {name, value})"),
    (lambda d: d[0]["nodeRegistration"]["kubeletExtraArgs"][0].update(value=True),
     "cannot unmarshal bool True into a string"),
    (lambda d: d[1].update(apiServers={}), 'unknown field "apiServers"'),
    (lambda d: d[0]["nodeRegistration"].update(kubeletExtraArg=[]), 'unknown field "nodeRegistration.kubeletExtraArg"'),
    (lambda d: d.pop(1), "ClusterConfiguration (kubeadm.k8s.io/v1beta4) is missing"),
    (lambda d: d[2].update(cgroupDrvier="systemd"), 'KubeletConfiguration: unknown field "cgroupDrvier"'),
    (lambda d: d[1].update(kubernetesVersion="v1.36.2"), "differs from this kubeadm (v1.36.3)"),
    (lambda d: d[1].update(kubernetesVersion="v1.34.0"), "only supports deploying clusters"),
])
def test_init_rejects_a_configuration_kubeadm_would_reject(cp1: Node, loaded, mutate, message: str) -> None:
    result = cp1.kubeadm("init", "--config", _config(cp1, loaded, "cp1", mutate), "--upload-certs")
    assert result.returncode == 1
    assert message in result.stderr
    assert not cp1.path("/etc/kubernetes/admin.conf").exists()


def test_duplicate_keys_are_rejected(cp1: Node) -> None:
    config = cp1.write("/tmp/dup.yaml", "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n"
                                         "kind: InitConfiguration\n")
    result = cp1.kubeadm("config", "validate", "--config", str(config))
    assert result.returncode == 1 and 'mapping key "kind" already defined' in result.stderr


def test_init_fails_like_the_api_server_without_its_encryption_configuration(cp1: Node) -> None:
    cp1.path("/etc/kubernetes/encryption/config.yaml").unlink()
    result = cp1.kubeadm("init", "--config", str(cp1.path("/tmp/kubeadm-config.yaml")))
    assert result.returncode == 1
    assert "kube-apiserver is not healthy" in result.stderr and "missing on the host" in result.stderr


def _kube_vip(node: Node, kubeconfig: str) -> None:
    mount = {"name": "kubeconfig", "mountPath": "/etc/kubernetes/admin.conf"}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kube-vip", "namespace": "kube-system"},
           "spec": {"containers": [{"name": "kube-vip", "image": "ghcr.io/kube-vip/kube-vip:v1.0.1",
                                    "volumeMounts": [mount]}],
                    "volumes": [{"name": "kubeconfig", "hostPath": {"path": kubeconfig, "type": "File"}}]}}
    node.write("/etc/kubernetes/manifests/kube-vip.yaml", yaml.safe_dump(pod))


def test_init_fails_when_kube_vip_reads_admin_conf(cp1: Node) -> None:
    _kube_vip(cp1, "/etc/kubernetes/admin.conf")
    result = cp1.kubeadm("init", "--config", str(cp1.path("/tmp/kubeadm-config.yaml")))
    assert result.returncode == 1
    assert "mount /etc/kubernetes/super-admin.conf until then" in result.stderr


def test_init_records_kube_vip_reading_super_admin_conf(cp1: Node) -> None:
    _kube_vip(cp1, "/etc/kubernetes/super-admin.conf")
    assert cp1.kubeadm("init", "--config", str(cp1.path("/tmp/kubeadm-config.yaml"))).returncode == 0
    assert cp1.calls()[-1]["notes"]["kube_vip_kubeconfig_at_init"] == "/etc/kubernetes/super-admin.conf"


def test_tokens_and_certificate_keys_need_a_running_control_plane(cp1: Node) -> None:
    assert "failed to load admin kubeconfig" in cp1.kubeadm("token", "create", "--ttl", "30m").stderr
    cp1.kubeadm("init", "--config", str(cp1.path("/tmp/kubeadm-config.yaml")))
    tokens = {cp1.kubeadm("token", "create", "--ttl", "30m").stdout.strip() for _ in range(3)}
    assert len(tokens) == 3 and all(re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", t) for t in tokens)
    assert "invalid duration" in cp1.kubeadm("token", "create", "--ttl", "soon").stderr
    upload = cp1.kubeadm("init", "phase", "upload-certs", "--upload-certs")
    assert re.fullmatch(r"[0-9a-f]{64}", upload.stdout.splitlines()[-1])
    recorded = cp1.path("/var/lib/kubeadm-double/tokens.jsonl").read_text()
    assert all(t not in recorded for t in tokens), "the double keeps fingerprints, never the tokens"


def test_worker_and_control_plane_joins(tmp_path: Path, loaded) -> None:
    worker = Node(tmp_path / "w1")
    result = worker.kubeadm("join", "--config", _config(worker, loaded, "w1"))
    assert result.returncode == 0, result.stderr
    assert worker.path("/etc/kubernetes/kubelet.conf").exists()
    assert worker.path("/etc/kubernetes/pki/ca.crt").exists() and not worker.path("/etc/kubernetes/pki/ca.key").exists()
    assert not worker.path("/etc/kubernetes/admin.conf").exists()
    assert "kubelet.conf already exists" in worker.kubeadm("join", "--config", _config(worker, loaded, "w1")).stderr

    cp2 = Node(tmp_path / "cp2")
    _kube_vip(cp2, "/etc/kubernetes/admin.conf")  # in place before the join, ignored by the config
    result = cp2.kubeadm("join", "--config", _config(cp2, loaded, "cp2"))
    assert result.returncode == 0, result.stderr
    assert cp2.path("/etc/kubernetes/admin.conf").exists()
    assert cp2.path("/etc/kubernetes/manifests/kube-apiserver.yaml").exists()
    notes = cp2.calls()[-1]["notes"]
    assert notes["control_plane"] and notes["preflight_ignored"] == ["DirAvailable--etc-kubernetes-manifests"]


@pytest.mark.parametrize(("host", "mutate", "message"), [
    ("w1", lambda d: d[0]["discovery"]["bootstrapToken"].update(token="ABCDEF.0123456789abcdef"),
     "the bootstrap token is invalid"),
    ("w1", lambda d: d[0]["discovery"]["bootstrapToken"].update(caCertHashes=[]), "without caCertHashes"),
    ("w1", lambda d: d[0]["discovery"]["bootstrapToken"].update(caCertHashes=["md5:00"]), "is not sha256:<64 hex>"),
    ("cp2", lambda d: d[0]["controlPlane"].pop("certificateKey"), "certificateKey must be 64 hex"),
    ("cp2", lambda d: d[0]["nodeRegistration"].pop("ignorePreflightErrors"),
     "[ERROR DirAvailable--etc-kubernetes-manifests]: /etc/kubernetes/manifests is not empty"),
    ("w1", lambda d: d.append({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration"}),
     "does not belong in the configuration of `kubeadm join`"),
])
def test_join_rejects_what_kubeadm_would_reject(tmp_path: Path, loaded, host: str, mutate, message: str) -> None:
    node = Node(tmp_path / host)
    _kube_vip(node, "/etc/kubernetes/admin.conf")
    result = node.kubeadm("join", "--config", _config(node, loaded, host, mutate))
    assert result.returncode == 1
    assert message in result.stderr
    assert not node.path("/etc/kubernetes/kubelet.conf").exists()


def test_reset_needs_force_and_removes_what_init_wrote(cp1: Node) -> None:
    cp1.kubeadm("init", "--config", str(cp1.path("/tmp/kubeadm-config.yaml")))
    assert "asks for confirmation" in cp1.kubeadm("reset").stderr
    assert cp1.kubeadm("reset", "-f").returncode == 0
    for gone in ("/etc/kubernetes/admin.conf", "/etc/kubernetes/pki", "/etc/kubernetes/manifests/etcd.yaml",
                 "/var/lib/etcd/member", "/var/lib/kubelet/config.yaml"):
        assert not cp1.path(gone).exists(), gone
    assert cp1.kubeadm("init", "--config", str(cp1.path("/tmp/kubeadm-config.yaml"))).returncode == 0
