"""Container images for the mirror: a Containerfile written here per image (FROM scratch, or FROM a
small Debian base for the images that need iptables), built and saved as OCI archives by podman.

Each archive carries the full reference in the `io.containerd.image.name` annotation, so
`ctr images import` names it exactly as kubeadm and the manifests do, and its manifest digest is
fixed by the archive: what images.txt records and what the nodes compare before importing.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from homelab_ctl.addons.artifacts import sha256_file
from homelab_ctl.errors import HomelabError
from homelab_ctl.lab import podman

Echo = Callable[[str], None]
BASE_IMAGE = "localhost/homelab-ctl-mirror-base:bookworm"
BASE_PACKAGES = ("iptables", "nftables", "ipset", "iproute2", "kmod", "conntrack", "ca-certificates")
DEBIAN_MIRROR = "http://deb.debian.org/debian"
PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Image:
    ref: str
    files: dict[str, Path]  # path in the image -> file on the host (binaries: mode 0755)
    entrypoint: tuple[str, ...] = ()
    debian: bool = False  # FROM the Debian base (iptables & co) instead of scratch
    links: dict[str, str] = field(default_factory=dict)  # path in the image -> symlink target

    def containerfile(self) -> str:
        lines = [f"FROM {BASE_IMAGE if self.debian else 'scratch'}", "COPY rootfs/ /", f"ENV PATH={PATH_ENV}"]
        if self.entrypoint:
            lines.append(f"ENTRYPOINT {json.dumps(list(self.entrypoint))}")
        lines.append(f'LABEL org.opencontainers.image.title="{self.ref}" '
                     'org.opencontainers.image.vendor="built by homelab-ctl mirror from published Go modules"')
        return "\n".join(lines) + "\n"

    def key(self, base_id: str) -> str:
        digest = hashlib.sha256(self.containerfile().encode())
        for dest, source in sorted(self.files.items()):
            digest.update(f"{dest}\0{sha256_file(source)}\0".encode())
        digest.update(json.dumps(self.links, sort_keys=True).encode())
        if self.debian:
            digest.update(base_id.encode())
        return digest.hexdigest()


def ensure_base(cache: Path, echo: Echo) -> str:
    """The Debian base image (debootstrap minbase + iptables tools), built once; returns its id."""
    if not podman.exists("image", BASE_IMAGE):
        if shutil.which("debootstrap") is None:
            raise HomelabError("debootstrap not found: the Debian-based images need it (apt-get install debootstrap)")
        echo(f"- debootstrap the image base {BASE_IMAGE} ({', '.join(BASE_PACKAGES)})")
        with tempfile.TemporaryDirectory(prefix="homelab-ctl-base.", dir="/var/tmp") as tmp:
            rootfs = Path(tmp) / "rootfs"
            log = cache / "base-debootstrap.log"
            with log.open("w") as fh:
                proc = subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
                                       "bookworm", str(rootfs), DEBIAN_MIRROR], stdout=fh, stderr=subprocess.STDOUT,
                                      check=False)
            if proc.returncode != 0:
                raise HomelabError(f"debootstrap of the image base failed (log: {log})")
            for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
                shutil.rmtree(rootfs / junk, ignore_errors=True)
            tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
            try:
                podman.run(["import", "--change", f"ENV PATH={PATH_ENV}", "-", BASE_IMAGE], stdin=tar.stdout,
                           timeout=900)
            finally:
                assert tar.stdout is not None
                tar.stdout.close()
                tar.wait()
    return str(podman.json_out(["image", "inspect", BASE_IMAGE])[0]["Id"])


def build(image: Image, cache: Path, base_id: str, echo: Echo) -> tuple[Path, str, bool]:
    """The OCI archive of image (cached by its key), its manifest digest, and whether it was built now."""
    key = image.key(base_id)
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / f"{key[:24]}.tar"
    digest_file = archive.with_suffix(".digest")
    if archive.is_file() and digest_file.is_file():
        return archive, digest_file.read_text().strip(), False
    echo(f"- image {image.ref}")
    with tempfile.TemporaryDirectory(prefix="homelab-ctl-image.", dir="/var/tmp") as tmp:
        context = Path(tmp)
        rootfs = context / "rootfs"
        rootfs.mkdir()
        for dest, source in image.files.items():
            target = rootfs / dest.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            target.chmod(0o755)
        for dest, link in image.links.items():
            target = rootfs / dest.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(link)
        (context / "Containerfile").write_text(image.containerfile(), encoding="utf-8")
        podman.run(["build", "--pull=never", "-q", "-t", image.ref, "-f", str(context / "Containerfile"),
                    str(context)], timeout=900)
        raw = context / "image.tar"
        podman.run(["save", "--format", "oci-archive", "-o", str(raw), image.ref], timeout=900)
        digest = name_archive(raw, archive.with_suffix(".partial"), image.ref)
    archive.with_suffix(".partial").rename(archive)
    digest_file.write_text(digest + "\n")
    return archive, digest, True


def name_archive(source: Path, target: Path, ref: str) -> str:
    """Copy an OCI archive, annotating its single manifest with the full reference; its digest."""
    with tarfile.open(source) as src, tarfile.open(target, "w") as dst:
        digest = ""
        for member in src.getmembers():
            data = src.extractfile(member) if member.isfile() else None
            if member.name.lstrip("./") == "index.json" and data is not None:
                index = json.loads(data.read())
                manifests = index.get("manifests") or []
                if len(manifests) != 1:
                    raise HomelabError(f"{source}: expected one manifest in the OCI archive, found {len(manifests)}")
                manifests[0].setdefault("annotations", {}).update({
                    "io.containerd.image.name": ref,
                    "org.opencontainers.image.ref.name": ref.rpartition(":")[2],
                })
                digest = str(manifests[0]["digest"])
                payload = json.dumps(index, separators=(",", ":")).encode()
                member.size = len(payload)
                dst.addfile(member, io.BytesIO(payload))
            else:
                dst.addfile(member, data)
    if not digest:
        raise HomelabError(f"{source}: no index.json in the OCI archive")
    return digest
