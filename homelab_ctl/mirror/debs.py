"""Debian packages shaped like the official pkgs.k8s.io ones (names, versions, paths, dependencies),
made with dpkg-deb from the binaries the builder compiled.

The unit and drop-in are the project's own text with the same behaviour as upstream's: the kubelet
restarts every 10 s until kubeadm writes its configuration, and the drop-in feeds it the kubeconfig,
config file, kubeadm-flags.env and /etc/default/kubelet, in that order.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from homelab_ctl.errors import HomelabError

REVISION = "1.1"
MAINTAINER = "homelab-ctl mirror builder <homelab-ctl@localhost>"

KUBELET_UNIT = """\
[Unit]
Description=kubelet: the Kubernetes node agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
"""

KUBEADM_DROPIN = """\
# Written for kubeadm: it provides the kubeconfigs, the config file and the flags kubeadm init/join write.
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \
--kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""


@dataclass(frozen=True)
class Package:
    name: str
    version: str  # upstream version, without the revision
    section: str
    description: str
    files: dict[str, Path | str]  # absolute path in the package -> source binary or file text
    depends: str = ""
    conffiles: tuple[str, ...] = ()
    modes: dict[str, int] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return f"{self.name}_{self.version}-{REVISION}_{arch()}.deb"


def arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)


def kubernetes_packages(version: str, k8s: Path, kubelet: Path, crictl: Path, cni: Path,
                        crictl_version: str, cni_version: str) -> list[Package]:
    """The five packages of the kubeadm install guide, from directories of built binaries."""
    built = "Built by homelab-ctl from published Go modules."
    unit_dir = "/usr/lib/systemd/system"
    return [
        Package("cri-tools", crictl_version, "admin", f"crictl, the CLI for CRI runtimes. {built}",
                {"/usr/bin/crictl": crictl / "crictl"}),
        Package("kubernetes-cni", cni_version, "net", f"The CNI plugins Kubernetes uses. {built}",
                {f"/opt/cni/bin/{p.name}": p for p in sorted(cni.iterdir()) if not p.name.startswith(".")}
                | {"/etc/cni/net.d/.kubernetes-cni-keep": ""}),
        Package("kubelet", version, "net", f"The Kubernetes node agent. {built}",
                {"/usr/bin/kubelet": kubelet / "kubelet", f"{unit_dir}/kubelet.service": KUBELET_UNIT,
                 "/etc/default/kubelet": "KUBELET_EXTRA_ARGS=\n",
                 "/var/lib/kubelet/.kubelet-keep": "", "/etc/kubernetes/manifests/.kubelet-keep": ""},
                depends="iptables (>= 1.4.21), kubernetes-cni (>= 1.2.0), mount, util-linux",
                conffiles=("/etc/default/kubelet",)),
        Package("kubectl", version, "admin", f"The Kubernetes command-line tool. {built}",
                {"/usr/bin/kubectl": k8s / "kubectl"}),
        Package("kubeadm", version, "admin", f"Bootstraps a Kubernetes cluster. {built}",
                {"/usr/bin/kubeadm": k8s / "kubeadm", f"{unit_dir}/kubelet.service.d/10-kubeadm.conf": KUBEADM_DROPIN}),
    ]


def build(package: Package, out_dir: Path) -> Path:
    """Write out_dir/<name>_<version>-<rev>_<arch>.deb; files owned by root, binaries 0755."""
    if shutil.which("dpkg-deb") is None:
        raise HomelabError("dpkg-deb not found: install dpkg (Debian/Ubuntu) to build the packages")
    with tempfile.TemporaryDirectory(prefix="homelab-ctl-deb.") as tmp:
        root = Path(tmp) / "root"
        for dest, source in package.files.items():
            target = root / dest.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, Path):
                shutil.copyfile(source, target)
                target.chmod(0o755)
            else:
                target.write_text(source, encoding="utf-8")
                target.chmod(0o644)
        control = root / "DEBIAN"
        control.mkdir()
        size_kib = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) // 1024
        fields = {
            "Package": package.name, "Version": f"{package.version}-{REVISION}", "Architecture": arch(),
            "Maintainer": MAINTAINER, "Installed-Size": str(size_kib), "Section": package.section,
            "Priority": "optional", "Homepage": "https://kubernetes.io",
        }
        if package.depends:
            fields["Depends"] = package.depends
        fields["Description"] = package.description
        (control / "control").write_text("".join(f"{k}: {v}\n" for k, v in fields.items()), encoding="utf-8")
        if package.conffiles:
            (control / "conffiles").write_text("".join(f"{c}\n" for c in package.conffiles), encoding="utf-8")
        target = out_dir / package.file_name
        proc = subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(target)],
                              capture_output=True, text=True, check=False,
                              env={**os.environ, "SOURCE_DATE_EPOCH": "0"})
        if proc.returncode != 0:
            raise HomelabError(f"dpkg-deb {package.file_name} failed: {proc.stderr.strip()[-300:]}")
    return target
