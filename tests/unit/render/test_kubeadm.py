"""The kubeadm configuration each node receives, rendered from the roles' own templates.

Checks the documents against the kubeadm v1beta4 reference (apiVersion/kind per node, allowed
fields and their types, per kind), that secrets are redacted unless given, that init and join
register a node the same way, and that Ansible's template module renders the very same bytes.
kubernetes-validate has no schema for these kinds (they are not API objects): the test proves
that, and checks them against the field lists of the v1beta4 reference instead (the ones the kubeadm
test double enforces, cross-checked here against a literal list).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from homelab_ctl.render import inventory, kubeadm
from homelab_ctl.spec import load
from tests.doubles import kubeadm_double

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
VALID = sorted((FIXTURES / "specs" / "valid").glob("*.yaml"))
KUBEADM_API = "kubeadm.k8s.io/v1beta4"
INIT_KINDS = [
    (KUBEADM_API, "InitConfiguration"),
    (KUBEADM_API, "ClusterConfiguration"),
    ("kubelet.config.k8s.io/v1beta1", "KubeletConfiguration"),
    ("kubeproxy.config.k8s.io/v1alpha1", "KubeProxyConfiguration"),
]
SECRETS = kubeadm.Secrets(token="abcdef.0123456789abcdef", ca_cert_hash="sha256:" + "0" * 64,
                          certificate_key="f" * 64, encryption_key=base64.b64encode(b"k" * 32).decode())

# Top-level fields of the v1beta4 kinds (k8s.io/kubernetes cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go,
# Kubernetes 1.31-1.36), written out here to check the schema the double enforces.
V1BETA4_FIELDS = {
    "InitConfiguration": {"apiVersion", "kind", "bootstrapTokens", "dryRun", "nodeRegistration", "localAPIEndpoint",
                          "certificateKey", "skipPhases", "patches", "timeouts"},
    "ClusterConfiguration": {"apiVersion", "kind", "etcd", "networking", "kubernetesVersion", "controlPlaneEndpoint",
                             "apiServer", "controllerManager", "scheduler", "dns", "proxy", "certificatesDir",
                             "imageRepository", "featureGates", "clusterName", "encryptionAlgorithm",
                             "certificateValidityPeriod", "caCertificateValidityPeriod"},
    "JoinConfiguration": {"apiVersion", "kind", "dryRun", "nodeRegistration", "caCertPath", "discovery",
                          "controlPlane", "skipPhases", "patches", "timeouts"},
}
NODE_REGISTRATION_FIELDS = {"name", "criSocket", "taints", "kubeletExtraArgs", "ignorePreflightErrors",
                            "imagePullPolicy", "imagePullSerial"}
# apiserver.config.k8s.io/v1 EncryptionConfiguration, as the role writes it.
ENCRYPTION_FIELDS = {"apiVersion", "kind", "resources"}
ENCRYPTION_PROVIDERS = {"aescbc", "aesgcm", "secretbox", "kms", "identity"}


def _docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def _kinds(docs: list[dict]) -> list[tuple[str, str]]:
    return [(d["apiVersion"], d["kind"]) for d in docs]


def test_the_double_enforces_the_v1beta4_reference() -> None:
    schemas = kubeadm_double().SCHEMAS
    for kind, fields in V1BETA4_FIELDS.items():
        assert set(schemas[kind]) == fields, kind
    assert set(schemas["InitConfiguration"]["nodeRegistration"]) == NODE_REGISTRATION_FIELDS
    assert schemas["ClusterConfiguration"]["apiServer"]["extraArgs"] == [{"name": "string", "value": "string"}]


@pytest.mark.parametrize("spec", VALID, ids=lambda p: p.stem)
def test_every_node_gets_a_valid_v1beta4_configuration(spec: Path) -> None:
    loaded = load(spec)
    cluster = loaded.cluster.spec
    first = cluster.control_planes[0].name
    validate = kubeadm_double().validate_documents
    for node in cluster.nodes:
        docs = _docs(kubeadm.node_config(loaded, node.name, SECRETS))
        if node.name == first:
            assert _kinds(docs) == INIT_KINDS
            assert validate(docs, "init") == []
            init, clusterconf, kubelet, proxy = docs
            assert clusterconf["kubernetesVersion"] == f"v{cluster.kubernetes.version}"
            assert clusterconf["networking"] == {"podSubnet": cluster.kubernetes.pod_subnet,
                                                 "serviceSubnet": cluster.kubernetes.service_subnet,
                                                 "dnsDomain": cluster.kubernetes.dns_domain}
            sans = clusterconf["apiServer"]["certSANs"]
            for cp in cluster.control_planes:
                assert cp.name in sans and cp.address in sans
            assert init["localAPIEndpoint"]["advertiseAddress"] == node.address
            assert kubelet["cgroupDriver"] == "systemd" and proxy["clusterCIDR"] == cluster.kubernetes.pod_subnet
            registration = init["nodeRegistration"]
        else:
            assert _kinds(docs) == [(KUBEADM_API, "JoinConfiguration")]
            assert validate(docs, "join") == []
            (join,) = docs
            assert ("controlPlane" in join) == node.is_control_plane
            registration = join["nodeRegistration"]
        assert registration["name"] == node.name
        assert registration["criSocket"] == "unix:///run/containerd/containerd.sock"
        assert registration["taints"] == inventory.node_taints(loaded.cluster, node)
        args = {a["name"]: a["value"] for a in registration["kubeletExtraArgs"]}
        assert args["node-ip"] == node.address
        assert args.get("node-labels", "") == ",".join(f"{k}={v}" for k, v in sorted(node.labels.items()))


def test_joins_ignore_no_preflight_check_of_their_own() -> None:
    """kubeadm join has no check of an empty /etc/kubernetes/manifests (since 1.23): kube-vip's static
    pod needs no ignored check, and an automatic entry would turn a user's [all] into the refused
    [all, X] (desk check #18)."""
    loaded = load(FIXTURES / "specs" / "valid" / "3cp-2w-vip.yaml")
    cp2, w1 = (_docs(kubeadm.node_config(loaded, n, SECRETS))[0] for n in ("cp2", "w1"))
    assert "ignorePreflightErrors" not in cp2["nodeRegistration"]
    assert "ignorePreflightErrors" not in w1["nodeRegistration"]
    assert cp2["discovery"]["bootstrapToken"]["apiServerEndpoint"] == "192.168.10.50:6443"
    roles = kubeadm.roles_dir()
    context = {**kubeadm.host_context(loaded, "cp2", SECRETS, roles), "kubeadm_join_ignore_preflight_errors": ["all"]}
    joined = _docs(kubeadm.environment(roles).get_template(kubeadm.JOIN_TEMPLATE).render(context))[0]
    assert joined["nodeRegistration"]["ignorePreflightErrors"] == ["all"]


def test_every_file_starts_with_its_document_separator() -> None:
    """kubeadm reads a comment before the first "---" as a document without kind and refuses the
    file (kubeadm 1.36 `config validate`: "kind and apiVersion is mandatory")."""
    loaded = load(FIXTURES / "specs" / "valid" / "3cp-2w-vip.yaml")
    for name, text in kubeadm.files(loaded, SECRETS).items():
        if name.endswith("encryption-config.yaml"):
            continue
        assert text.startswith("---\n"), name


def test_endpoint_port_and_encryption() -> None:
    loaded = load(FIXTURES / "specs" / "valid" / "3cp-3w-nas-addons.yaml")
    init, clusterconf, *_ = _docs(kubeadm.node_config(loaded, "cp1", SECRETS))
    assert clusterconf["controlPlaneEndpoint"] == "192.168.20.10:8443"
    assert init["localAPIEndpoint"]["bindPort"] == 8443  # kube-vip moves the VIP, not the port
    api = clusterconf["apiServer"]
    encryption = {"name": "encryption-provider-config", "value": "/etc/kubernetes/encryption/config.yaml"}
    assert api["extraArgs"] == [encryption]
    assert api["extraVolumes"][0]["hostPath"] == "/etc/kubernetes/encryption"

    solo = load(FIXTURES / "specs" / "valid" / "one-node.yaml")
    init, clusterconf, *_ = _docs(kubeadm.node_config(solo, "box", SECRETS))
    assert clusterconf["controlPlaneEndpoint"] == "192.168.1.10:6443"
    assert init["nodeRegistration"]["taints"] == []  # the only node runs the workloads


def test_without_encryption_there_is_no_encryption_configuration(tmp_path: Path) -> None:
    spec = tmp_path / "plain.yaml"
    text = (FIXTURES / "specs" / "valid" / "one-node.yaml").read_text()
    spec.write_text(text.replace("spec:\n", "spec:\n  kubernetes:\n    encryptSecrets: false\n", 1))
    loaded = load(spec)
    _, clusterconf, *_ = _docs(kubeadm.node_config(loaded, "box", SECRETS))
    assert "extraArgs" not in clusterconf["apiServer"] and "extraVolumes" not in clusterconf["apiServer"]
    assert kubeadm.encryption_config(loaded, SECRETS) is None
    assert "kubeadm/encryption-config.yaml" not in kubeadm.files(loaded)


def test_init_and_join_register_a_node_the_same_way() -> None:
    """Both templates carry nodeRegistration: the same for the same node (the first control plane
    rendered with the join template, as when it rejoins a running cluster)."""
    loaded = load(FIXTURES / "specs" / "valid" / "3cp-3w-nas-addons.yaml")
    roles = kubeadm.roles_dir()
    context = kubeadm.host_context(loaded, "cp1", SECRETS, roles)
    join = _docs(kubeadm.environment(roles).get_template(kubeadm.JOIN_TEMPLATE).render(context))[0]
    init = _docs(kubeadm.node_config(loaded, "cp1", SECRETS))[0]
    assert join["nodeRegistration"] == init["nodeRegistration"]
    assert join["controlPlane"]["localAPIEndpoint"] == init["localAPIEndpoint"]


def test_encryption_configuration() -> None:
    loaded = load(FIXTURES / "specs" / "valid" / "3cp-2w-vip.yaml")
    (doc,) = _docs(kubeadm.encryption_config(loaded, SECRETS) or "")
    assert set(doc) == ENCRYPTION_FIELDS
    assert (doc["apiVersion"], doc["kind"]) == ("apiserver.config.k8s.io/v1", "EncryptionConfiguration")
    (resource,) = doc["resources"]
    assert set(resource) == {"resources", "providers"} and resource["resources"] == ["secrets"]
    assert all(len(p) == 1 and set(p) <= ENCRYPTION_PROVIDERS for p in resource["providers"])
    # a new cluster: secretbox first (the encryption-at-rest page rates aescbc weak), identity last
    assert [next(iter(p)) for p in resource["providers"]] == ["secretbox", "identity"]
    (key,) = resource["providers"][0]["secretbox"]["keys"]
    assert set(key) == {"name", "secret"} and len(base64.b64decode(key["secret"])) == 32
    assert resource["providers"][-1] == {"identity": {}}


def test_kubernetes_validate_has_no_schema_for_these_kinds() -> None:
    loaded = load(FIXTURES / "specs" / "valid" / "3cp-2w-vip.yaml")
    docs = _docs(kubeadm.node_config(loaded, "cp1", SECRETS)) + _docs(kubeadm.encryption_config(loaded, SECRETS) or "")
    for doc in docs:
        with pytest.raises(kubernetes_validate.SchemaNotFoundError):
            kubernetes_validate.validate(doc, "1.36.0", strict=True)


def test_secrets_are_redacted_unless_given() -> None:
    loaded = load(FIXTURES / "specs" / "valid" / "3cp-2w-vip.yaml")
    files = kubeadm.files(loaded)
    assert sorted(files) == sorted([f"kubeadm/{n}.yaml" for n in ("cp1", "cp2", "cp3", "w1", "w2")]
                                   + ["kubeadm/encryption-config.yaml"])
    cp2 = _docs(files["kubeadm/cp2.yaml"])[0]
    assert cp2["discovery"]["bootstrapToken"]["token"] == kubeadm.REDACTED
    assert cp2["controlPlane"]["certificateKey"] == kubeadm.REDACTED
    assert kubeadm.REDACTED in files["kubeadm/encryption-config.yaml"]


def test_ansible_renders_the_same_bytes(tmp_path: Path) -> None:
    """The role's template module and the Python renderer give identical files for every node."""
    spec = FIXTURES / "specs" / "valid" / "3cp-3w-nas-addons.yaml"
    loaded = load(spec)
    inventory.write(inventory.files(loaded), tmp_path / "inventory")
    roles = kubeadm.roles_dir()
    out = tmp_path / "out"
    out.mkdir()
    playbook = tmp_path / "render.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Render the kubeadm configurations with the roles' templates",
        "hosts": "all",
        "gather_facts": False,
        "vars_files": [str(roles / "kubeadm_init/defaults/main.yml"), str(roles / "kubeadm_join/defaults/main.yml")],
        "vars": {"first": loaded.cluster.spec.control_planes[0].name},
        "tasks": [
            {"name": "Render", "delegate_to": "localhost", "ansible.builtin.template": {
                "src": f"{roles}/{{{{ '{kubeadm.INIT_TEMPLATE}' if inventory_hostname == first"
                       f" else '{kubeadm.JOIN_TEMPLATE}' }}}}",
                "dest": f"{out}/{{{{ inventory_hostname }}}}.yaml", "mode": "0644"}},
            {"name": "Render the encryption configuration", "delegate_to": "localhost", "run_once": True,
             "ansible.builtin.template": {"src": str(roles / kubeadm.ENCRYPTION_TEMPLATE),
                                          "dest": f"{out}/encryption-config.yaml", "mode": "0644"}},
        ],
    }]))
    secrets = tmp_path / "secrets.json"  # extra vars: above the role defaults, as homelab-ctl passes them
    secrets.write_text(json.dumps(SECRETS.variables()))
    tool = Path(sys.executable).with_name("ansible-playbook")
    result = subprocess.run(
        [str(tool), "-i", str(tmp_path / "inventory"), str(playbook), "-e", f"@{secrets}",
         "-e", "ansible_connection=local", "-e", f"ansible_python_interpreter={sys.executable}", "-f", "10"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rendered = kubeadm.files(loaded, SECRETS)
    for node in loaded.cluster.spec.nodes:
        assert (out / f"{node.name}.yaml").read_text() == rendered[f"kubeadm/{node.name}.yaml"], node.name
    assert (out / "encryption-config.yaml").read_text() == rendered["kubeadm/encryption-config.yaml"]


def test_kubeadm_timeouts_for_slow_machines_reach_init_and_join() -> None:
    """`up -e homelab_kubeadm_timeouts={...}` sets kubeadm's v1beta4 timeouts on every node;
    without it kubeadm keeps its own."""
    loaded = load(FIXTURES / "specs" / "valid" / "3cp-2w-vip.yaml")
    timeouts = {"controlPlaneComponentHealthCheck": "15m0s", "kubeletHealthCheck": "10m0s"}
    validate = kubeadm_double().validate_documents
    for host, kind in (("cp1", "init"), ("cp2", "join"), ("w1", "join")):
        plain = _docs(kubeadm.node_config(loaded, host, SECRETS))[0]
        slow = _docs(kubeadm.node_config(loaded, host, SECRETS, extra_vars={"homelab_kubeadm_timeouts": timeouts}))
        assert "timeouts" not in plain
        assert slow[0]["timeouts"] == timeouts
        assert validate(slow, kind) == []


def test_kubeadm_patches_are_named_in_init_and_join_only_when_given() -> None:
    """`up -e homelab_kubeadm_patches={...}` (or -e @playbooks/vars/slow-machines.yml) points every
    node's kubeadm at the directory kube_packages writes; without patches there is no `patches`."""
    loaded = load(FIXTURES / "specs" / "valid" / "3cp-2w-vip.yaml")
    patches = {"kube-apiserver+strategic.yaml": {"spec": {"containers": [{"name": "kube-apiserver"}]}}}
    validate = kubeadm_double().validate_documents
    for host, kind in (("cp1", "init"), ("cp2", "join"), ("w1", "join")):
        plain = _docs(kubeadm.node_config(loaded, host, SECRETS))[0]
        patched = _docs(kubeadm.node_config(loaded, host, SECRETS, extra_vars={"homelab_kubeadm_patches": patches}))
        assert "patches" not in plain
        assert patched[0]["patches"] == {"directory": "/etc/kubernetes/patches"}
        assert validate(patched, kind) == []
