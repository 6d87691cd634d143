"""Where things are in an offline mirror (one layout for air-gapped users and for the lab).

    kubernetes/<version>/*.deb + SHA256SUMS       kubeadm, kubelet, kubectl, cri-tools, kubernetes-cni
    containerd/<version>/containerd-<version>-linux-<arch>.tar.gz, runc.<arch> + SHA256SUMS
    images/*.tar + SHA256SUMS + images.txt         OCI archives; images.txt: <ref> <manifest digest> <file>
    <component>/<version>/<file>                   manifests, e.g. flannel/v0.28.9/kube-flannel.yml
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from homelab_ctl.addons.artifacts import sha256_file

SUMS = "SHA256SUMS"
IMAGES_DIR = "images"
IMAGES_LIST = "images.txt"
_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *]([^/\s]+)$")
_IMAGE_LINE = re.compile(r"^(\S+) (sha256:[0-9a-f]{64}) ([^/\s]+\.tar)$")


@dataclass(frozen=True)
class ImageEntry:
    ref: str  # exactly as kubeadm and the manifests name it
    digest: str  # manifest digest: what `ctr images ls` shows once imported
    file: str  # archive name inside images/


def write_sums(directory: Path) -> Path:
    """SHA256SUMS (sha256sum format) of every regular file in directory but itself."""
    lines = [f"{sha256_file(p)}  {p.name}" for p in sorted(directory.iterdir())
             if p.is_file() and p.name != SUMS]
    target = directory / SUMS
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def read_sums(directory: Path) -> dict[str, str]:
    """file name -> sha256 from directory/SHA256SUMS; malformed lines are ignored."""
    path = directory / SUMS
    if not path.is_file():
        return {}
    result = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _SUM_LINE.match(line.strip())
        if match:
            result[match.group(2)] = match.group(1)
    return result


def verify_sums(directory: Path) -> list[str]:
    """Problems with directory against its SHA256SUMS (empty: every listed file matches)."""
    sums = read_sums(directory)
    if not sums:
        return [f"{directory / SUMS}: missing or empty"]
    problems = []
    for name, expected in sums.items():
        path = directory / name
        if not path.is_file():
            problems.append(f"{path}: listed in {SUMS} but missing")
        elif sha256_file(path) != expected:
            problems.append(f"{path}: sha256 differs from {SUMS}")
    return problems


def write_images(directory: Path, entries: list[ImageEntry]) -> None:
    lines = [f"{e.ref} {e.digest} {e.file}" for e in sorted(entries, key=lambda e: e.ref)]
    (directory / IMAGES_LIST).write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_images(directory: Path) -> list[ImageEntry]:
    path = directory / IMAGES_LIST
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _IMAGE_LINE.match(line.strip())
        if match:
            entries.append(ImageEntry(*match.groups()))
    return entries


def image_file_name(ref: str) -> str:
    """registry.k8s.io/kube-apiserver:v1.36.3 -> kube-apiserver_v1.36.3.tar"""
    repo, _, tag = ref.rpartition(":")
    return f"{repo.rsplit('/', 1)[-1]}_{tag}.tar"
