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

STACK_HINT = "To see the stack trace of this error execute with --v=5 or higher"

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
    (["token", "frob"], 'unknown command "frob" for "kubeadm token"'),
    (["frobnicate"], 'unknown command "frobnicate" for "kubeadm"'),
    (["reset", "-x"], "unknown shorthand flag: 'x' in -x"),
    (["version", "-o", "xml"], "invalid output format: xml"),
    (["version", "--log-file=/tmp/x"], "unknown flag: --log-file"),  # not a flag of kubeadm 1.36
    (["init", "--config", "x", "--pod-network-cidr", "10.0.0.0/8"],
     "can not mix '--config' with arguments [pod-network-cidr]"),
    (["token", "delete"], 'accepts between 1 and any number of arguments, received 0'),
    # --v is allowed with --config, --vmodule is not (isAllowedFlag)
    (["init", "--config", "x", "--vmodule", "x=2"], "can not mix '--config' with arguments [vmodule]"),
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
    (lambda d: d.pop(1), "ClusterConfiguration (kubeadm.k8s.io/v1beta4) is missing"),
    (lambda d: d[1].update(kubernetesVersion="v1.36.2"), "differs from this kubeadm (v1.36.3)"),
    (lambda d: d[1].update(kubernetesVersion="v1.34.0"),
     "only supports deploying clusters with the control plane version >= 1.35.0. Current version: v1.34.0"),
    (lambda d: d[1].update(kubernetesVersion="v1.37.0"), "[double] kubernetesVersion v1.37.0 differs"),
    (lambda d: d[0]["nodeRegistration"].update(ignorePreflightErrors=["all", "Swap"]),
     "don't specify individual checks if 'all' is used"),
])
def test_init_rejects_a_configuration_kubeadm_would_reject(cp1: Node, loaded, mutate, message: str) -> None:
    result = cp1.kubeadm("init", "--config", _config(cp1, loaded, "cp1", mutate))
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.endswith(STACK_HINT + "\n")
    assert not cp1.path("/etc/kubernetes/admin.conf").exists()


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d[1].update(apiServers={}), 'unknown field "apiServers"'),
    (lambda d: d[0]["nodeRegistration"].update(kubeletExtraArg=[]), 'unknown field "nodeRegistration.kubeletExtraArg"'),
    (lambda d: d[2].update(cgroupDrvier="systemd"), 'unknown field "cgroupDrvier"'),
    (lambda d: d.append({"apiVersion": "example.com/v1", "kind": "Widget"}), "unknown configuration APIs"),
])
def test_strict_in_config_validate_warnings_in_init(cp1: Node, loaded, mutate, message: str) -> None:
    """kubeadm decodes strictly only in `config validate` (which the roles run as the template's
    `validate:`); init only warns about unknown fields and kinds and goes on."""
    config = _config(cp1, loaded, "cp1", mutate)
    validated = cp1.kubeadm("config", "validate", "--config", config)
    assert validated.returncode == 1 and message in validated.stderr
    init = cp1.kubeadm("init", "--config", config)
    assert init.returncode == 0, init.stderr
    assert "WARNING" in init.stderr or "strict decoding error" in init.stderr


def test_all_with_other_checks_passes_config_validate_but_not_init(cp1: Node, loaded) -> None:
    """ValidateIgnorePreflightErrors runs in init/join/reset, not in `config validate`: the template's
    `validate:` does not catch it."""
    config = _config(cp1, loaded, "cp1", lambda d: d[0]["nodeRegistration"].update(
        ignorePreflightErrors=["all", "DirAvailable--var-lib-etcd"]))
    assert cp1.kubeadm("config", "validate", "--config", config).returncode == 0
    init = cp1.kubeadm("init", "--config", config)
    assert init.returncode == 1 and "don't specify individual checks if 'all' is used" in init.stderr
    only_all = _config(cp1, loaded, "cp1", lambda d: d[0]["nodeRegistration"].update(ignorePreflightErrors=["all"]))
    assert cp1.kubeadm("init", "--config", only_all).returncode == 0
    flag = cp1.kubeadm("reset", "-f", "--ignore-preflight-errors", "all,Swap")
    assert flag.returncode == 1 and "don't specify individual checks" in flag.stderr


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
    # kube-vip's static pod is no concern of kubeadm join's preflight (no DirAvailable check since 1.23)
    assert notes["control_plane"] and notes["preflight_ignored"] == []
    assert notes["phases"] == ["preflight", "control-plane-prepare", "kubelet-start", "kubelet-wait-bootstrap",
                               "etcd-join", "control-plane-join", "wait-control-plane"]
    assert not cp2.path("/etc/kubernetes/bootstrap-kubelet.conf").exists()  # removed after the TLS bootstrap


@pytest.mark.parametrize(("host", "mutate", "message"), [
    ("w1", lambda d: d[0]["discovery"]["bootstrapToken"].update(token="ABCDEF.0123456789abcdef"),
     "the bootstrap token is invalid"),
    ("w1", lambda d: d[0]["discovery"]["bootstrapToken"].update(caCertHashes=[]), "without caCertHashes"),
    ("w1", lambda d: d[0]["discovery"]["bootstrapToken"].update(caCertHashes=["md5:00"]), "invalid hash 'md5:00'"),
    ("cp2", lambda d: d[0]["controlPlane"].update(certificateKey="xyz"),
     "certificate key decoding error: encoding/hex: invalid byte: U+0078 'x'"),
    ("cp2", lambda d: d[0]["controlPlane"].update(certificateKey="ab" * 16), "invalid certificate key size 16"),
    ("w1", lambda d: d[0]["nodeRegistration"].update(ignorePreflightErrors=["all", "Port-10250"]),
     "don't specify individual checks if 'all' is used"),
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
    for gone in ("/etc/kubernetes/admin.conf", "/etc/kubernetes/super-admin.conf", "/etc/kubernetes/pki/ca.crt",
                 "/etc/kubernetes/manifests/etcd.yaml", "/var/lib/etcd/member", "/var/lib/kubelet/config.yaml"):
        assert not cp1.path(gone).exists(), gone
    assert list(cp1.path("/etc/kubernetes/pki").iterdir()) == []  # kubeadm empties the directory, keeps it
    assert cp1.kubeadm("init", "--config", str(cp1.path("/tmp/kubeadm-config.yaml"))).returncode == 0


# --- what real kubeadm 1.36 does, and the double now does too (desk check #19) ---------------------

@pytest.mark.parametrize("args", [
    ["--v=5"], ["-v", "5"], ["-v5"], ["--skip-token-print"], ["--skip-certificate-key-print"],
    ["--node-name", "cp1"], ["--ignore-preflight-errors", "Swap"], ["--skip-phases", "addon/kube-proxy"],
])
def test_init_accepts_the_flags_kubeadm_allows_with_config(cp1: Node, args: list[str]) -> None:
    result = cp1.kubeadm("init", "--config", str(cp1.path("/tmp/kubeadm-config.yaml")), *args)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("flag", [["--dry-run"], ["--rootfs", "/"]])
def test_flags_it_accepts_but_does_not_emulate_stop_it(cp1: Node, flag: list[str]) -> None:
    result = cp1.kubeadm("init", "--config", str(cp1.path("/tmp/kubeadm-config.yaml")), *flag)
    assert result.returncode == 1 and "this double does not emulate it" in result.stderr
    assert "unknown flag" not in result.stderr and not cp1.path("/etc/kubernetes/admin.conf").exists()


def test_init_prints_no_token_with_skip_token_print(cp1: Node) -> None:
    result = cp1.kubeadm("init", "--config", str(cp1.path("/tmp/kubeadm-config.yaml")), "--skip-token-print")
    assert "--token <value withheld>" in result.stdout
    assert not re.search(r"--token [a-z0-9]{6}\.", result.stdout)


def test_init_creates_the_bootstrap_tokens_of_its_configuration(cp1: Node, loaded) -> None:
    """No --upload-certs: no certificate key; the InitConfiguration's bootstrapTokens decide the TTL."""
    result = cp1.kubeadm("init", "--config", str(cp1.path("/tmp/kubeadm-config.yaml")))
    assert result.returncode == 0, result.stderr
    assert "certificate-key" not in result.stdout
    assert not cp1.path("/var/lib/kubeadm-double/certificate_keys.jsonl").exists()
    (token,) = [json.loads(line) for line in cp1.path("/var/lib/kubeadm-double/tokens.jsonl").read_text().splitlines()]
    assert token["source"] == "init" and token["ttl"] == "10m"  # the template's kubeadm_init_bootstrap_token_ttl


def test_config_header_comment_before_the_first_separator_is_a_document_without_kind(cp1: Node) -> None:
    """kubeadm splits on "---" lines (apimachinery YAMLReader): a comment alone before the first
    separator is a document of its own, without apiVersion/kind, and kubeadm refuses the file."""
    body = (cp1.path("/tmp/kubeadm-config.yaml")).read_text()
    assert body.startswith("---\n# kubeadm configuration of cp1")  # the roles' templates put it after
    bad = cp1.write("/tmp/bad.yaml", "# a comment\n" + body)
    result = cp1.kubeadm("config", "validate", "--config", str(bad))
    assert result.returncode == 1
    assert "kind and apiVersion is mandatory information that must be specified" in result.stderr
    blank = cp1.write("/tmp/blank.yaml", "\n" + body)
    assert cp1.kubeadm("config", "validate", "--config", str(blank)).returncode == 1
    assert cp1.kubeadm("config", "validate", "--config", str(cp1.path("/tmp/kubeadm-config.yaml"))).returncode == 0


@pytest.mark.parametrize(("version", "ok"), [("v1.34.4", False), ("v1.35.0", True), ("v1.36.3", True)])
def test_etcd_http_endpoints_exist_from_1_35(tmp_path: Path, version: str, ok: bool) -> None:
    node = Node(tmp_path)
    node.write("/etc/kubeadm-double/version", version + "\n")
    config = node.write("/tmp/ext.yaml", "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
                        f"kubernetesVersion: {version}\netcd:\n  external:\n    endpoints: [https://10.0.0.1:2379]\n"
                        "    httpEndpoints: [http://10.0.0.1:2381]\n")
    result = node.kubeadm("config", "validate", "--config", str(config))
    assert (result.returncode == 0) == ok, result.stderr


@pytest.mark.parametrize("key", ["", "AB" * 32, "ab" * 32])
def test_certificate_key_may_be_empty_or_upper_case(tmp_path: Path, loaded, key: str) -> None:
    node = Node(tmp_path / "cp2")
    config = _config(node, loaded, "cp2", lambda d: d[0]["controlPlane"].update(certificateKey=key))
    assert node.kubeadm("config", "validate", "--config", config).returncode == 0
    assert node.kubeadm("join", "--config", config).returncode == 0


def test_worker_join_checks_the_ca_a_control_plane_join_does_not(tmp_path: Path, loaded) -> None:
    worker, cp2 = Node(tmp_path / "w1"), Node(tmp_path / "cp2")
    for node in (worker, cp2):
        node.write("/etc/kubernetes/pki/ca.crt", "left over\n")
    w = worker.kubeadm("join", "--config", _config(worker, loaded, "w1"))
    assert w.returncode == 1 and "[ERROR FileAvailable--etc-kubernetes-pki-ca.crt]" in w.stderr
    c = cp2.kubeadm("join", "--config", _config(cp2, loaded, "cp2"))
    assert c.returncode == 0, c.stderr


def test_a_half_joined_control_plane_fails_preflight_like_kubeadm(tmp_path: Path, loaded) -> None:
    """A control plane join that died after kubelet-start (desk check #2): its static pods and the
    running kubelet fail the next join's preflight, as on a real node; kubeadm reset -f clears it."""
    cp2 = Node(tmp_path / "cp2")
    cp2.write("/etc/kubeadm-double/fail-at", "join etcd-join\n")
    first = cp2.kubeadm("join", "--config", _config(cp2, loaded, "cp2"))
    assert first.returncode == 1 and "error execution phase etcd-join" in first.stderr
    assert cp2.path("/etc/kubernetes/kubelet.conf").exists()  # kubelet.conf alone proves nothing
    assert not cp2.path("/etc/kubernetes/manifests/etcd.yaml").exists()
    again = cp2.kubeadm("join", "--config", _config(cp2, loaded, "cp2"))
    assert again.returncode == 1
    for check in ("FileAvailable--etc-kubernetes-kubelet.conf", "Port-10250", "Port-6443", "Port-10257", "Port-10259",
                  "FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml"):
        assert f"[ERROR {check}]" in again.stderr, check
    assert "[ERROR Port-2379]" not in again.stderr  # no etcd static pod yet
    assert cp2.kubeadm("reset", "-f").returncode == 0
    assert cp2.kubeadm("join", "--config", _config(cp2, loaded, "cp2")).returncode == 0


def test_a_half_joined_worker_fails_preflight_like_kubeadm(tmp_path: Path, loaded) -> None:
    """A worker join that died during the TLS bootstrap leaves everything but kubelet.conf."""
    w1 = Node(tmp_path / "w1")
    w1.write("/etc/kubeadm-double/fail-at", "join kubelet-wait-bootstrap\n")
    assert w1.kubeadm("join", "--config", _config(w1, loaded, "w1")).returncode == 1
    assert not w1.path("/etc/kubernetes/kubelet.conf").exists()
    again = w1.kubeadm("join", "--config", _config(w1, loaded, "w1"))
    for check in ("FileAvailable--etc-kubernetes-bootstrap-kubelet.conf", "FileAvailable--etc-kubernetes-pki-ca.crt",
                  "Port-10250"):
        assert f"[ERROR {check}]" in again.stderr, check
    assert w1.kubeadm("reset", "-f").returncode == 0
    assert w1.kubeadm("join", "--config", _config(w1, loaded, "w1")).returncode == 0


def test_a_half_finished_init_leaves_admin_conf_and_no_running_api(cp1: Node) -> None:
    """Desk check #1: init that died in wait-control-plane leaves admin.conf; the API never came up,
    so nothing can be asked of it; a second init fails preflight until kubeadm reset -f."""
    cp1.write("/etc/kubeadm-double/fail-at", "init wait-control-plane\n")
    config = str(cp1.path("/tmp/kubeadm-config.yaml"))
    assert cp1.kubeadm("init", "--config", config).returncode == 1
    assert cp1.path("/etc/kubernetes/admin.conf").exists()
    token = cp1.kubeadm("token", "create", "--ttl", "30m")
    assert token.returncode == 1 and "not running" in token.stderr
    again = cp1.kubeadm("init", "--config", config)
    assert again.returncode == 1 and "[ERROR FileAvailable--etc-kubernetes-manifests-etcd.yaml]" in again.stderr
    assert cp1.kubeadm("reset", "-f").returncode == 0
    assert cp1.kubeadm("init", "--config", config).returncode == 0
    assert cp1.kubeadm("token", "create", "--ttl", "30m").returncode == 0


def test_init_fails_when_the_kubelet_refuses_its_node_labels(cp1: Node, loaded) -> None:
    """The kubelet double reads the flags kubeadm writes: node-role.kubernetes.io/* is refused by the
    kubelet (NodeRestriction's allowed set), so init never sees a healthy kubelet."""
    config = _config(cp1, loaded, "cp1", lambda d: d[0]["nodeRegistration"]["kubeletExtraArgs"].append(
        {"name": "node-labels", "value": "node-role.kubernetes.io/worker="}))
    result = cp1.kubeadm("init", "--config", config)
    assert result.returncode == 1
    assert "error execution phase wait-control-plane" in result.stderr
    assert "unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels" in result.stderr
    assert cp1.path("/etc/kubernetes/admin.conf").exists()  # half-finished, as for real


@pytest.mark.parametrize(("version", "flag"), [("v1.33.5", True), ("v1.34.1", False), ("v1.36.3", False)])
def test_the_cri_socket_moves_to_the_instance_configuration_from_1_34(tmp_path: Path, loaded, version: str,
                                                                      flag: bool) -> None:
    node = Node(tmp_path / "w1")
    node.write("/etc/kubeadm-double/version", version + "\n")
    assert node.kubeadm("join", "--config", _config(node, loaded, "w1")).returncode == 0
    flags = node.path("/var/lib/kubelet/kubeadm-flags.env").read_text()
    assert ("--container-runtime-endpoint=" in flags) == flag
    assert node.path("/var/lib/kubelet/instance-config.yaml").exists() != flag


def test_tokens_are_deleted_by_id(cp1: Node) -> None:
    cp1.kubeadm("init", "--config", str(cp1.path("/tmp/kubeadm-config.yaml")))
    token = cp1.kubeadm("token", "create", "--ttl", "30m", "--description", "homelab-ctl join").stdout.strip()
    token_id = token.split(".")[0]
    deleted = cp1.kubeadm("token", "delete", token_id)
    assert deleted.returncode == 0 and f"bootstrap token '{token_id}' deleted" in deleted.stdout
    again = cp1.kubeadm("token", "delete", token_id)
    assert again.returncode == 1 and f'secrets "bootstrap-token-{token_id}" not found' in again.stderr
    assert "didn't match pattern" in cp1.kubeadm("token", "delete", "NOT-A-TOKEN").stderr
    deletes = cp1.path("/var/lib/kubeadm-double/token_deletes.jsonl").read_text().splitlines()
    (record,) = [json.loads(x) for x in deletes]
    assert record["id"] == token_id


def test_version_outputs(tmp_path: Path) -> None:
    node = Node(tmp_path)
    assert json.loads(node.kubeadm("version", "-o", "json").stdout)["clientVersion"]["gitVersion"] == "v1.36.3"
    assert yaml.safe_load(node.kubeadm("version", "--output=yaml").stdout)["clientVersion"]["minor"] == "36"


def test_reset_keeps_etcd_data_it_cannot_attribute(tmp_path: Path) -> None:
    """remove-etcd-member finds the local etcd through its static pod: without etcd.yaml, kubeadm
    reset leaves /var/lib/etcd alone (the roles remove it after reset)."""
    node = Node(tmp_path)
    node.write("/var/lib/etcd/member/snap/db", "data\n")
    result = node.kubeadm("reset", "-f")
    assert result.returncode == 0 and "No etcd config found" in result.stdout
    assert node.path("/var/lib/etcd/member/snap/db").exists()
