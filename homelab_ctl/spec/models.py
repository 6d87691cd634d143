"""The Cluster spec (apiVersion homelab-ctl/v1alpha1): pydantic models, camelCase in YAML.

Field-level rules live here (types, enums, one-of); rules that relate several fields across the
spec live in consistency.py so that every problem is reported at once.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from homelab_ctl.addons import catalog
from homelab_ctl.spec.show import quote
from homelab_ctl.spec.types import (
    CIDR,
    MAC,
    URL,
    UUID,
    AbsPath,
    AddressRange,
    Bucket,
    Cron,
    Domain,
    EnvName,
    FilePath,
    Host,
    HostIP,
    Interface,
    LabelKey,
    LabelValue,
    MachineID,
    Name,
    NodeLabelKey,
    NoInlineSecret,
    PgName,
    Port,
    PostgresVersion,
    Quantity,
    Regex,
    Region,
    Registry,
    UserName,
    Version,
)

API_VERSION = "homelab-ctl/v1alpha1"
KIND = "Cluster"

Role = Literal["control-plane", "worker"]


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
    )


def _one_of(model: BaseModel, *fields: str, required: bool = True) -> None:
    given = [f for f in fields if getattr(model, f) is not None]
    names = " or ".join(to_camel(f) for f in fields)
    if len(given) > 1:
        raise PydanticCustomError("one_of", "set only one of {names}", {"names": names})
    if required and not given:
        raise PydanticCustomError("one_of", "set one of {names}", {"names": names})


class SecretRef(Model):
    """Where a secret comes from: a file (read at run time) or an environment variable."""

    file: FilePath | None = None
    env: EnvName | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        _one_of(self, "file", "env")
        return self


Secret = Annotated[SecretRef, NoInlineSecret]


class Metadata(Model):
    name: Name


class ControlPlaneEndpoint(Model):
    vip: HostIP | None = Field(None, description="virtual IP announced by kube-vip on the control planes")
    host: Host | None = Field(None, description="external load balancer (host name or IP)")
    port: Port = 6443
    interface: Interface | None = Field(None, description="kube-vip interface; default: the default-route one")

    @model_validator(mode="after")
    def _vip_or_host(self) -> ControlPlaneEndpoint:
        _one_of(self, "vip", "host")
        if self.host is not None and self.interface is not None:
            raise PydanticCustomError("one_of", "interface only applies to a vip", {})
        return self

    @property
    def address(self) -> str:
        return self.vip or self.host or ""


class Kubernetes(Model):
    version: Version = catalog.DEFAULT_KUBERNETES_VERSION
    pod_subnet: CIDR = "10.244.0.0/16"
    service_subnet: CIDR = "10.96.0.0/12"
    dns_domain: Domain = "cluster.local"
    control_plane_endpoint: ControlPlaneEndpoint | None = None
    encrypt_secrets: bool = Field(True, description="encrypt Secrets at rest in etcd (aescbc key)")
    fail_cgroup_v1: bool = Field(
        True, description="kubelet failCgroupV1: Kubernetes >= 1.35 refuses cgroup v1 hosts; false runs there anyway"
    )
    container_nodes: bool = Field(
        False, description="the nodes are containers (the lab): no kernel checks, no conntrack sysctls, host swap "
        "and disk ignored by the kubelet"
    )


class Flannel(Model):
    backend: Literal["vxlan", "host-gw", "wireguard"] = "vxlan"
    iface: Interface | None = None
    iface_regex: Regex | None = None

    @model_validator(mode="after")
    def _iface(self) -> Flannel:
        _one_of(self, "iface", "iface_regex", required=False)
        return self


class Network(Model):
    cni: Literal["flannel"] = "flannel"
    node_cidr: CIDR | None = Field(None, description="the LAN the nodes live on; checks VIP and ranges")
    flannel: Flannel = Flannel()


class SSH(Model):
    user: UserName = "root"
    port: Port = 22
    private_key_file: FilePath | None = Field(None, description="default: ssh-agent and ~/.ssh/id_*")
    known_hosts_file: FilePath = "~/.ssh/known_hosts"


class NodeSSH(Model):
    """Per-node overrides; host/port reach the node when its cluster address is not routable
    from the controller (bastion, NAT, lab)."""

    host: Host | None = None
    port: Port | None = None
    user: UserName | None = None
    private_key_file: FilePath | None = None
    known_hosts_file: FilePath | None = None


class Taint(Model):
    key: LabelKey
    value: LabelValue | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class Identity(Model):
    """Hardware the node must still be (checked by preflight): catches a swapped board or a clone."""

    product_uuid: UUID | None = None
    machine_id: MachineID | None = None
    macs: list[MAC] = []


def _unique_roles(roles: list[Role]) -> list[Role]:
    if len(set(roles)) != len(roles):
        raise PydanticCustomError("roles", "roles are listed twice", {})
    return roles


class Node(Model):
    name: Name
    address: HostIP
    roles: Annotated[list[Role], Field(min_length=1), AfterValidator(_unique_roles)]
    labels: dict[NodeLabelKey, LabelValue] = {}
    taints: list[Taint] = []
    identity: Identity | None = None
    ssh: NodeSSH | None = None

    @property
    def is_control_plane(self) -> bool:
        return "control-plane" in self.roles

    @property
    def is_worker(self) -> bool:
        return "worker" in self.roles


class ContainerRuntime(Model):
    name: Literal["containerd"] = "containerd"
    source: Literal["distro", "upstream"] = Field(
        "distro", description="distro: the OS package; upstream: the pinned GitHub release"
    )
    version: Version | None = Field(None, description="upstream release; default: the pinned one")
    registry_mirrors: dict[Registry, list[URL]] = {}


class LocalPath(Model):
    path: AbsPath = "/var/local-path-provisioner"
    default: bool = True


class NFS(Model):
    server: Host
    share: AbsPath
    default: bool = False
    storage_class: Name = "nfs"


class Storage(Model):
    local_path: LocalPath | None = LocalPath()
    nfs: NFS | None = None


class S3Backup(Model):
    endpoint: URL
    bucket: Bucket
    region: Region = "us-east-1"
    access_key_id: Secret
    secret_access_key: Secret
    schedule: Cron = "0 3 * * *"
    retention: int = Field(7, ge=1, description="base backups kept")


class PostgresCluster(Model):
    name: Name
    namespace: Name = "default"
    instances: int = Field(3, ge=1)
    postgres_version: PostgresVersion = "17"
    volume: Quantity = "10Gi"
    storage_class: Name | None = None
    pooler: bool = True
    databases: dict[PgName, PgName] = Field({}, description="database name -> owner user")


class PostgresOperator(Model):
    version: str = catalog.POSTGRES_OPERATOR.version
    namespace: Name = "postgres-operator"
    monitoring: bool = Field(True, description="postgres exporter sidecar for Prometheus")
    backup: S3Backup | None = None
    clusters: list[PostgresCluster] = []


class KubeVirt(Model):
    version: str = catalog.KUBEVIRT.version
    emulation: Literal["auto", "always", "never"] = Field(
        "auto", description="auto: software emulation only where /dev/kvm is missing"
    )
    cdi: bool = True


class MetalLB(Model):
    version: str = catalog.METALLB.version
    addresses: Annotated[list[AddressRange], Field(min_length=1)]


class Addons(Model):
    postgres_operator: PostgresOperator | None = None
    kubevirt: KubeVirt | None = None
    metallb: MetalLB | None = None


class Artifacts(Model):
    dir: FilePath | None = Field(None, description="offline mirror of packages, images and manifests")


class ClusterSpec(Model):
    kubernetes: Kubernetes = Kubernetes()
    network: Network = Network()
    ssh: SSH = SSH()
    nodes: Annotated[list[Node], Field(min_length=1)]
    container_runtime: ContainerRuntime = ContainerRuntime()
    storage: Storage = Storage()
    addons: Addons = Addons()
    artifacts: Artifacts = Artifacts()

    @property
    def control_planes(self) -> list[Node]:
        return [n for n in self.nodes if n.is_control_plane]

    @property
    def workers(self) -> list[Node]:
        return [n for n in self.nodes if n.is_worker]


def _api_version(value: str) -> str:
    if value != API_VERSION:
        raise PydanticCustomError(
            "api_version", "{value} is not supported (expected {expected})",
            {"value": quote(value), "expected": API_VERSION},
        )
    return value


def _kind(value: str) -> str:
    if value != KIND:
        raise PydanticCustomError("kind", "{value} is not supported (expected Cluster)", {"value": quote(value)})
    return value


class Cluster(Model):
    api_version: Annotated[str, AfterValidator(_api_version)]
    kind: Annotated[str, AfterValidator(_kind)]
    metadata: Metadata
    spec: ClusterSpec

    @property
    def name(self) -> str:
        return self.metadata.name
