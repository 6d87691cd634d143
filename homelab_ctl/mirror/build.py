"""`homelab-ctl mirror build`: compile, package and write an offline mirror (layout.py).

Every product is cached by a key of its inputs (cache dir), and the mirror gets a copy (a hard
link where possible): a second run with the same versions compiles and packages nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from homelab_ctl.addons import catalog
from homelab_ctl.addons.artifacts import sha256_file
from homelab_ctl.errors import HomelabError
from homelab_ctl.lab import podman
from homelab_ctl.mirror import debs, gobuild, images, layout, recipes
from homelab_ctl.mirror.gobuild import BuildError

Echo = Callable[[str], None]
NETTEST_IMAGE = "localhost/homelab-ctl-nettest:1"  # the real tier's probe pod: busybox (wget, nslookup, httpd)
BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static


@dataclass
class Result:
    directory: Path
    built: list[str] = field(default_factory=list)  # what this run compiled or packaged
    seconds: float = 0.0
    size: int = 0
    images: list[layout.ImageEntry] = field(default_factory=list)


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "homelab-ctl" / "mirror-build"


def check_tools() -> None:
    missing = [t for t in ("go", "podman", "dpkg-deb", "gcc", "debootstrap") if shutil.which(t) is None
               and not Path("/usr/sbin", t).exists()]
    if not BUSYBOX.is_file():
        missing.append("busybox (busybox-static)")
    if missing:
        raise HomelabError(f"the mirror builder needs {', '.join(missing)}",
                           hint="apt-get install golang podman runc debootstrap dpkg-dev gcc libc6-dev "
                                "libseccomp-dev busybox-static (Go >= 1.26)")


STAMP = "mirror.json"


def recipe_key(kubernetes: str) -> str:
    """What a mirror is made from: the recipes, this builder's code and the versions it pins."""
    parts: list[object] = [kubernetes, catalog.FLANNEL_MANIFEST.sha256, recipes.KUBE_VIP.version]
    parts += sorted(p for p in recipes.RECIPES.rglob("*") if p.is_file())
    parts += [Path(__file__).with_name(n) for n in ("debs.py", "images.py", "recipes.py")]
    return _key(*parts)


def current(out: Path, kubernetes: str) -> bool:
    """The mirror at out was built from these recipes and every file still matches its SHA256SUMS."""
    try:
        stamp = json.loads((out / STAMP).read_text())
    except (OSError, ValueError):
        return False
    if stamp.get("key") != recipe_key(kubernetes):
        return False
    dirs = [out / "kubernetes" / kubernetes, out / "containerd" / recipes.CONTAINERD.version.lstrip("v"),
            out / layout.IMAGES_DIR]
    return all(not layout.verify_sums(d) for d in dirs)


def build(out: Path, kubernetes: str = catalog.DEFAULT_KUBERNETES_VERSION, cache: Path | None = None,
          echo: Echo = print) -> Result:
    started = time.monotonic()
    version = kubernetes.lstrip("v")
    out = out.expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise HomelabError(f"{out} is not a directory")
    result = Result(out)
    if current(out, version):
        echo(f"{out} is current for Kubernetes v{version}: nothing to build")
        result.images = layout.read_images(out / layout.IMAGES_DIR)
        result.size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        result.seconds = time.monotonic() - started
        return result
    check_tools()
    cache = (cache or default_cache()).absolute()
    work = cache / f"kubernetes-{version}"
    (cache / "go").mkdir(parents=True, exist_ok=True)
    echo(f"building the offline mirror for Kubernetes v{version} into {out} (cache: {cache})")

    bins: dict[str, Path] = {}
    for component in recipes.ALL:
        module = gobuild.prepare_recipe(component, work, version)
        before = set((cache / "go").iterdir())
        path = gobuild.build(component, module, cache / "go", echo, kubernetes=version)
        if path not in before:
            result.built.append(f"{component.name} ({', '.join(component.binaries)})")
        bins.update({name: path for name in component.binaries})

    refs = _kubeadm_images(bins["kubeadm"] / "kubeadm", version)
    _check_versions(refs)
    pause = _pause(refs, version, work, cache, result, echo)

    _debs(out / "kubernetes" / version, version, bins, cache, result)
    _containerd(out / "containerd" / recipes.CONTAINERD.version.lstrip("v"), bins, cache, result)
    flannel_manifest = _manifests(out, work)
    result.images = _images(out / layout.IMAGES_DIR, refs, bins, pause, cache, result, echo, flannel_manifest)
    (out / STAMP).write_text(json.dumps({"key": recipe_key(version), "kubernetes": version,
                                         "images": [e.ref for e in result.images]}, indent=2) + "\n")
    result.size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    result.seconds = time.monotonic() - started
    return result


def _kubeadm_images(kubeadm: Path, version: str) -> dict[str, str]:
    """name (kube-apiserver, etcd, coredns, pause, ...) -> reference, as this kubeadm lists them."""
    proc = subprocess.run([str(kubeadm), "config", "images", "list", "--kubernetes-version", f"v{version}"],
                          capture_output=True, text=True, check=False, timeout=120)
    if proc.returncode != 0:
        raise BuildError(f"kubeadm config images list failed: {proc.stderr.strip()[-300:]}")
    refs = {}
    for ref in proc.stdout.split():
        repo = ref.rpartition(":")[0]
        refs[repo.rsplit("/", 1)[-1]] = ref
    return refs


def _check_versions(refs: dict[str, str]) -> None:
    """etcd and CoreDNS must be exactly the versions kubeadm names (their recipes pin them)."""
    wanted = {"etcd": refs["etcd"].rpartition(":")[2].split("-")[0], "coredns": refs["coredns"].rpartition(":")[2]}
    have = {"etcd": recipes.ETCD.version.lstrip("v"), "coredns": recipes.COREDNS.version}
    for name in wanted:
        if wanted[name] != have[name]:
            raise BuildError(f"kubeadm wants {refs[name]} but recipes/go/{name} builds {have[name]}: "
                             f"update recipes/go/{name}/go.mod and recipes.py")


def _pause(refs: dict[str, str], version: str, work: Path, cache: Path, result: Result, echo: Echo) -> Path:
    """pause from build/pause/linux/pause.c of the k8s.io/kubernetes module, compiled static like upstream."""
    tag = refs["pause"].rpartition(":")[2]
    module_dir = gobuild.download("k8s.io/kubernetes", f"v{version}", work / "recipes" / "kubernetes")["Dir"]
    source = Path(module_dir) / "build/pause/linux/pause.c"
    key = hashlib.sha256(source.read_bytes() + tag.encode()).hexdigest()[:16]
    target = cache / "go" / f"pause-{key}" / "pause"
    if not target.is_file():
        echo(f"- gcc pause {tag}")
        target.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["gcc", "-Os", "-Wall", "-Werror", "-static", f"-DVERSION=v{tag}-homelab-ctl",
                               "-o", str(target), str(source)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BuildError(f"gcc pause.c failed: {proc.stderr.strip()[-300:]}")
        result.built.append(f"pause {tag}")
    return target


def _cached(cache: Path, key: str, name: str, make: Callable[[Path], None], result: Result) -> Path:
    """cache/<key>/<name>, made by make(path) only when missing."""
    path = cache / key[:24] / name
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        make(partial)
        partial.rename(path)
        result.built.append(name)
    return path


def _place(source: Path, target: Path) -> None:
    """target becomes source's content (hard link when on the same file system)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and os.path.samefile(source, target):
        return
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    tmp.replace(target)


def _sync_dir(directory: Path, wanted: set[str]) -> None:
    """Remove files of an earlier build that this one does not produce (other versions keep their dirs)."""
    for path in directory.iterdir():
        if path.is_file() and path.name not in wanted | {layout.SUMS, layout.IMAGES_LIST}:
            path.unlink()


def _key(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            digest.update(sha256_file(part).encode())
        else:
            digest.update(str(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _debs(directory: Path, version: str, bins: dict[str, Path], cache: Path, result: Result) -> None:
    packages = debs.kubernetes_packages(
        version, bins["kubeadm"], bins["kubelet"], bins["crictl"], bins["bridge"],
        recipes.CRICTL.version.lstrip("v"), recipes.CNI_PLUGINS.version.lstrip("v"))
    for package in packages:
        sources = [s for s in package.files.values() if isinstance(s, Path)]
        texts = [s for s in package.files.values() if isinstance(s, str)]
        key = _key(package.file_name, package.depends, *sorted(package.files), *texts, *sources)

        def make(path: Path, package: debs.Package = package) -> None:
            built = debs.build(package, path.parent)
            built.rename(path)

        _place(_cached(cache / "debs", key, package.file_name, make, result), directory / package.file_name)
    _sync_dir(directory, {p.file_name for p in packages})
    layout.write_sums(directory)


def _containerd(directory: Path, bins: dict[str, Path], cache: Path, result: Result) -> None:
    """The release layout: containerd-<v>-linux-<arch>.tar.gz with bin/*, and runc.<arch>."""
    version = recipes.CONTAINERD.version.lstrip("v")
    arch = debs.arch()
    archive_name = f"containerd-{version}-linux-{arch}.tar.gz"
    names = sorted(recipes.CONTAINERD.binaries)
    key = _key(archive_name, *(bins[n] / n for n in names))

    def make(path: Path) -> None:
        with tarfile.open(path, "w:gz") as tar:
            for name in names:
                info = tar.gettarinfo(str(bins[name] / name), arcname=f"bin/{name}")
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mtime = 0
                with (bins[name] / name).open("rb") as fh:
                    tar.addfile(info, fh)

    _place(_cached(cache / "containerd", key, archive_name, make, result), directory / archive_name)
    _place(bins["runc"] / "runc", directory / f"runc.{arch}")
    _sync_dir(directory, {archive_name, f"runc.{arch}"})
    layout.write_sums(directory)


def _images(directory: Path, refs: dict[str, str], bins: dict[str, Path], pause: Path, cache: Path,
            result: Result, echo: Echo, flannel_manifest: Path) -> list[layout.ImageEntry]:
    podman.require("podman")
    flannel = _manifest_images(flannel_manifest)
    for name in ("flannel", "flannel-cni-plugin"):
        if name not in flannel:
            raise BuildError(f"{flannel_manifest} names no {name} image")
    bin_ = "/usr/local/bin/"
    wanted = [
        *(images.Image(refs[n], {bin_ + n: bins[n] / n}) for n in
          ("kube-apiserver", "kube-controller-manager", "kube-scheduler")),
        images.Image(refs["kube-proxy"], {bin_ + "kube-proxy": bins["kube-proxy"] / "kube-proxy"}, debian=True),
        images.Image(refs["etcd"], {bin_ + n: bins[n] / n for n in ("etcd", "etcdctl", "etcdutl")}),
        images.Image(refs["coredns"], {"/coredns": bins["coredns"] / "coredns"}, entrypoint=("/coredns",)),
        images.Image(refs["pause"], {"/pause": pause}, entrypoint=("/pause",)),
        images.Image(f"ghcr.io/kube-vip/kube-vip:{recipes.KUBE_VIP.version}",
                     {"/kube-vip": bins["kube-vip"] / "kube-vip"}, entrypoint=("/kube-vip",)),
        images.Image(flannel["flannel"],
                     {"/opt/bin/flanneld": bins["flanneld"] / "flanneld",
                      "/opt/bin/install-conf": bins["install-conf"] / "install-conf"},
                     entrypoint=("/opt/bin/flanneld",), debian=True),
        images.Image(flannel["flannel-cni-plugin"], {"/flannel": bins["flannel"] / "flannel", "/bin/busybox": BUSYBOX},
                     links={"/bin/cp": "busybox", "/bin/sh": "busybox"}),
        images.Image(NETTEST_IMAGE, {"/bin/busybox": BUSYBOX},
                     links={f"/bin/{a}": "busybox" for a in ("sh", "wget", "nslookup", "httpd", "nc", "sleep",
                                                             "cat", "echo", "hostname", "ip", "ls")},
                     entrypoint=("/bin/sleep", "infinity")),
    ]
    base_id = images.ensure_base(cache, echo)
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for image in wanted:
        archive, digest, built = images.build(image, cache / "images", base_id, echo)
        if built:
            result.built.append(image.ref)
        entry = layout.ImageEntry(image.ref, digest, layout.image_file_name(image.ref))
        _place(archive, directory / entry.file)
        entries.append(entry)
    _sync_dir(directory, {e.file for e in entries})
    layout.write_images(directory, entries)
    layout.write_sums(directory)
    return entries


def _manifest_images(manifest: Path) -> dict[str, str]:
    """Repository base name -> reference of every container image a manifest names."""
    import yaml

    found = {}
    for doc in yaml.safe_load_all(manifest.read_text(encoding="utf-8")):
        spec = ((doc or {}).get("spec") or {}).get("template", {}).get("spec", {})
        for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            ref = str(container["image"])
            found[ref.rpartition(":")[0].rsplit("/", 1)[-1]] = ref
    return found


def _manifests(out: Path, work: Path) -> Path:
    """Add-on manifests that come inside Go modules (flannel's), verified against the catalog's sum."""
    pinned = catalog.FLANNEL_MANIFEST
    module_dir = gobuild.download(recipes.FLANNEL.module, pinned.version, work / "recipes" / "flannel")["Dir"]
    source = Path(module_dir) / "Documentation" / pinned.name
    if sha256_file(source) != pinned.sha256:
        raise BuildError(f"{source}: sha256 differs from the catalog's pin of {pinned.name}")
    target = out / pinned.component / pinned.version / pinned.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target
