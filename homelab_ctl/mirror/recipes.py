"""What the mirror builder compiles: one Go recipe module per component (recipes/go/<name>/go.mod),
the main packages it builds and the version it stamps in, as the projects' own Makefiles do.

Versions here are those the go.mod files require; kubernetes is rewritten to the spec's version
at build time (its staging modules follow as v0.<minor>.<patch>).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RECIPES = Path(__file__).resolve().with_name("recipes")
GO_RECIPES = RECIPES / "go"
CONTAINERFILES = RECIPES / "images"


@dataclass(frozen=True)
class GoComponent:
    name: str  # recipes/go/<name>
    module: str
    version: str
    binaries: dict[str, str]  # output file name -> main package
    cgo: bool = False
    tags: str = ""
    ldflags: tuple[str, ...] = ()  # -X flags, {version} replaced
    static: bool = False  # cgo binaries linked statically (runc, like its release binary)
    nosumdb: tuple[str, ...] = ()  # module prefixes the checksum database does not list

    def stamp(self) -> list[str]:
        """{version} is v1.2.3, {bare} is 1.2.3."""
        return [flag.format(version=self.version, bare=self.version.lstrip("v")) for flag in self.ldflags]


def kubernetes_stamp(version: str, build_date: str) -> list[str]:
    """The -X flags of hack/lib/version.sh (both packages), so binaries report v1.36.3."""
    major, minor, *_ = version.lstrip("v").split(".")
    flags = []
    for pkg in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        flags += [f"-X {pkg}.gitVersion=v{version.lstrip('v')}", f"-X {pkg}.gitMajor={major}",
                  f"-X {pkg}.gitMinor={minor}", f"-X {pkg}.buildDate={build_date}",
                  f"-X {pkg}.gitTreeState=clean"]
    return flags


K8S = "k8s.io/kubernetes/cmd/"
KUBERNETES_STATIC = GoComponent(
    "kubernetes", "k8s.io/kubernetes", "v1.36.3",
    {name: K8S + name for name in ("kubeadm", "kubectl", "kube-apiserver", "kube-controller-manager",
                                   "kube-scheduler", "kube-proxy")},
    tags="selinux,notest",
)
# The kubelet is still built with cgo upstream in 1.36 (static only from 1.38).
KUBELET = GoComponent("kubernetes", "k8s.io/kubernetes", "v1.36.3", {"kubelet": K8S + "kubelet"},
                      cgo=True, tags="selinux,notest")
ETCD = GoComponent("etcd", "go.etcd.io/etcd/server/v3", "v3.6.8", {
    "etcd": "go.etcd.io/etcd/server/v3", "etcdctl": "go.etcd.io/etcd/etcdctl/v3",
    "etcdutl": "go.etcd.io/etcd/etcdutl/v3"})
COREDNS = GoComponent("coredns", "github.com/coredns/coredns", "v1.14.2", {"coredns": "github.com/coredns/coredns"})
CRICTL = GoComponent("cri-tools", "sigs.k8s.io/cri-tools", "v1.36.0",
                     {"crictl": "sigs.k8s.io/cri-tools/cmd/crictl"},
                     ldflags=("-X sigs.k8s.io/cri-tools/pkg/version.Version={version}",))
KUBE_VIP = GoComponent("kube-vip", "github.com/kube-vip/kube-vip", "v1.2.1",
                       {"kube-vip": "github.com/kube-vip/kube-vip"},
                       ldflags=("-X main.Version={version}",), nosumdb=("github.com/osrg/gobgp",))
FLANNEL = GoComponent("flannel", "github.com/flannel-io/flannel", "v0.28.9", {
    "flanneld": "github.com/flannel-io/flannel",
    "install-conf": "github.com/flannel-io/flannel/cmd/install_conf"},
    cgo=True, static=True,  # the UDP backend is C on amd64 (flannel's Makefile builds it so)
    ldflags=("-X github.com/flannel-io/flannel/pkg/version.Version={version}",))
_CNI = "github.com/containernetworking/plugins/plugins/"
CNI_PLUGINS = GoComponent("cni-plugins", "github.com/containernetworking/plugins", "v1.9.1", {
    p.rsplit("/", 1)[-1]: _CNI + p for p in (
        "main/bridge", "main/loopback", "main/ptp", "main/host-device", "main/ipvlan", "main/macvlan",
        "main/vlan", "main/dummy", "main/tap", "ipam/host-local", "ipam/static", "ipam/dhcp",
        "meta/portmap", "meta/bandwidth", "meta/firewall", "meta/tuning", "meta/sbr", "meta/vrf")},
    ldflags=("-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion={version}",))
# flannel-io/cni-plugin is not served by the module proxy; its code started as this plugin of
# containernetworking/plugins (removed there in v1.0), which the proxy serves.
FLANNEL_CNI = GoComponent("flannel-cni", "github.com/containernetworking/plugins", "v0.9.1",
                          {"flannel": _CNI + "meta/flannel"},
                          ldflags=CNI_PLUGINS.ldflags)
CONTAINERD = GoComponent("containerd", "github.com/containerd/containerd/v2", "v2.2.1", {
    name: f"github.com/containerd/containerd/v2/cmd/{name}"
    for name in ("containerd", "ctr", "containerd-shim-runc-v2")},
    tags="no_btrfs no_devmapper no_zfs",
    ldflags=("-X github.com/containerd/containerd/v2/version.Version={version}",))
RUNC = GoComponent("runc", "github.com/opencontainers/runc", "v1.3.4", {"runc": "github.com/opencontainers/runc"},
                   cgo=True, static=True, tags="seccomp urfave_cli_no_docs netgo osusergo",
                   ldflags=("-X main.version={bare}",))

# Small ones first: a broken recipe shows in minutes, not after the hour Kubernetes takes.
ALL = (CRICTL, CNI_PLUGINS, FLANNEL_CNI, RUNC, KUBE_VIP, FLANNEL, COREDNS, ETCD, CONTAINERD,
       KUBERNETES_STATIC, KUBELET)
