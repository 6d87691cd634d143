#!/usr/bin/env python3
"""TEST ONLY: fake Kubernetes .deb packages that carry the test doubles, and what serves them.

The real packages (pkgs.k8s.io) cannot be downloaded here. These have the real names, versions
(1.36.3-1.1), architectures and dependencies' shape, and install the doubles of this directory:
kubeadm -> /usr/bin/kubeadm (the kubeadm double), kubelet -> /usr/bin/kubelet (the kubelet double)
+ kubelet.service and its 10-kubeadm.conf drop-in,
kubectl/cri-tools/kubernetes-cni -> stubs. With them the kube_packages role runs its real code paths:

  repo DIR --version V [--version V2]   a flat apt repository laid out like pkgs.k8s.io (V: 1.36.3, or
                                        1.36.3-2.1 for a build revision other than 1.1)
                                        (DIR/core:/stable:/v1.36/deb/: Packages, Release, InRelease
                                        signed with a throwaway GnuPG key, Release.key armored)
  mirror DIR --version V                an offline mirror: DIR/kubernetes/V/*.deb + SHA256SUMS

Standard library only, plus dpkg-deb (and gpg for `repo`): it runs on a lab machine or the host.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from email.utils import formatdate
from pathlib import Path

HERE = Path(__file__).resolve().parent
REVISION = "1.1"
CRI_TOOLS = "1.36.0"
KUBERNETES_CNI = "1.8.0"

_STUB = """#!/bin/sh
# TEST DOUBLE of {name} (fake package of homelab-ctl's tests): not the real {name}.
echo "{name} (test double) {version}"
"""


def _package(workdir: Path, out: Path, name: str, version: str, arch: str, depends: str,
             files: dict[str, tuple[str, int]], dirs: tuple[str, ...] = ()) -> Path:
    root = workdir / f"{name}_{version}"
    shutil.rmtree(root, ignore_errors=True)
    (root / "DEBIAN").mkdir(parents=True)
    control = [f"Package: {name}", f"Version: {version}", f"Architecture: {arch}",
               "Maintainer: homelab-ctl tests <tests@homelab-ctl.invalid>", "Section: admin", "Priority: optional"]
    if depends:
        control.append(f"Depends: {depends}")
    control.append(f"Description: TEST DOUBLE of {name} (fake package for homelab-ctl's tests)")
    (root / "DEBIAN" / "control").write_text("\n".join(control) + "\n")
    for d in dirs:
        (root / d.lstrip("/")).mkdir(parents=True, exist_ok=True)
    for dest, (content, mode) in files.items():
        target = root / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        target.chmod(mode)
    deb = out / f"{name}_{version}_{arch}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(deb)],
                   check=True, capture_output=True)
    return deb


def build(out: Path, versions: list[str], arch: str = "amd64") -> list[Path]:
    """kubelet/kubeadm/kubectl for each version, cri-tools and kubernetes-cni once."""
    out.mkdir(parents=True, exist_ok=True)
    debs = []
    with tempfile.TemporaryDirectory(prefix="fake-debs.") as tmp:
        work = Path(tmp)
        debs.append(_package(work, out, "cri-tools", f"{CRI_TOOLS}-{REVISION}", arch, "",
                             {"/usr/bin/crictl": (_STUB.format(name="crictl", version=CRI_TOOLS), 0o755)}))
        debs.append(_package(work, out, "kubernetes-cni", f"{KUBERNETES_CNI}-{REVISION}", arch, "",
                             {"/opt/cni/bin/README.test-double": ("no CNI plugins: test double\n", 0o644)}))
        for given in versions:  # "1.36.3" (revision 1.1) or "1.36.3-2.1" (a republished build)
            version, _, revision = given.partition("-")
            full = f"{version}-{revision or REVISION}"
            debs.append(_package(
                work, out, "kubelet", full, arch, "kubernetes-cni (>= 1.2.0), iptables, iproute2, mount, python3",
                {"/usr/bin/kubelet": ((HERE / "kubelet").read_text(), 0o755),
                 "/lib/systemd/system/kubelet.service": ((HERE / "kubelet.service").read_text(), 0o644),
                 "/lib/systemd/system/kubelet.service.d/10-kubeadm.conf":
                     ((HERE / "10-kubeadm.conf").read_text(), 0o644),
                 "/etc/kubeadm-double/kubelet-version": (f"v{version}\n", 0o644)},
                dirs=("/etc/kubernetes/manifests",)))
            debs.append(_package(work, out, "kubectl", full, arch, "",
                                 {"/usr/bin/kubectl": (_STUB.format(name="kubectl", version=version), 0o755)}))
            debs.append(_package(
                work, out, "kubeadm", full, arch, "cri-tools (>= 1.30.0), python3-yaml, openssl",
                {"/usr/bin/kubeadm": ((HERE / "kubeadm").read_text(), 0o755),
                 "/etc/kubeadm-double/version": (f"v{version}\n", 0o644)}))
    return debs


def _control_fields(deb: Path) -> str:
    return subprocess.run(["dpkg-deb", "--field", str(deb)], check=True, capture_output=True,
                          text=True).stdout.strip()


def repo(base: Path, versions: list[str], arch: str = "amd64") -> Path:
    """A flat repository like https://pkgs.k8s.io/core:/stable:/v1.36/deb/ under base; its path.
    A version may name its package revision (1.36.3-2.1); the default is 1.1."""
    minor = ".".join(versions[0].split(".")[:2])
    root = base / "core:" / "stable:" / f"v{minor}" / "deb"
    shutil.rmtree(root, ignore_errors=True)
    debs = build(root, versions, arch)
    entries = []
    for deb in debs:
        data = deb.read_bytes()
        entries.append(f"{_control_fields(deb)}\nFilename: ./{deb.name}\nSize: {len(data)}\n"
                       f"SHA256: {hashlib.sha256(data).hexdigest()}\n")
    packages = "\n".join(entries)
    (root / "Packages").write_text(packages)
    (root / "Packages.gz").write_bytes(gzip.compress(packages.encode(), mtime=0))
    sums = [f" {hashlib.sha256((root / n).read_bytes()).hexdigest()} {(root / n).stat().st_size} {n}"
            for n in ("Packages", "Packages.gz")]
    release = (f"Origin: homelab-ctl tests\nLabel: fake pkgs.k8s.io (test double)\nArchitectures: {arch}\n"
               f"Date: {formatdate(usegmt=True)}\nSHA256:\n" + "\n".join(sums) + "\n")
    (root / "Release").write_text(release)
    with tempfile.TemporaryDirectory(prefix="fake-repo-gpg.") as home:
        env = {**os.environ, "GNUPGHOME": home}
        gpg = ["gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""]
        subprocess.run([*gpg, "--quick-generate-key", "homelab-ctl fake repository <tests@homelab-ctl.invalid>",
                        "ed25519", "sign", "never"], env=env, check=True, capture_output=True)
        subprocess.run([*gpg, "--clearsign", "-o", str(root / "InRelease"), str(root / "Release")],
                       env=env, check=True, capture_output=True)
        subprocess.run([*gpg, "--armor", "--detach-sign", "-o", str(root / "Release.gpg"), str(root / "Release")],
                       env=env, check=True, capture_output=True)
        key = subprocess.run([*gpg, "--armor", "--export"], env=env, check=True, capture_output=True).stdout
        (root / "Release.key").write_bytes(key)
        subprocess.run(["gpgconf", "--kill", "all"], env=env, check=False, capture_output=True)
    return root


def mirror(base: Path, version: str, arch: str = "amd64") -> Path:
    """base/kubernetes/<version>/ with the .debs and SHA256SUMS; its path."""
    root = base / "kubernetes" / version
    shutil.rmtree(root, ignore_errors=True)
    debs = build(root, [version], arch)
    lines = [f"{hashlib.sha256(d.read_bytes()).hexdigest()}  {d.name}" for d in sorted(debs)]
    (root / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return root


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["repo", "mirror"])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--version", action="append", required=True)
    parser.add_argument("--arch", default="amd64")
    args = parser.parse_args(argv)
    if args.kind == "repo":
        print(repo(args.dir, args.version, args.arch))
    else:
        print(mirror(args.dir, args.version[0], args.arch))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
