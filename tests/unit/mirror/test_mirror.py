"""The mirror's pure parts: layout files, OCI archive naming, .deb shape, recipes and their go.mod."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from homelab_ctl.mirror import debs, images, layout, recipes


def test_sums_round_trip_and_detect_a_changed_file(tmp_path: Path) -> None:
    (tmp_path / "a.deb").write_bytes(b"one")
    (tmp_path / "b.deb").write_bytes(b"two")
    layout.write_sums(tmp_path)
    assert set(layout.read_sums(tmp_path)) == {"a.deb", "b.deb"}
    assert layout.verify_sums(tmp_path) == []
    (tmp_path / "b.deb").write_bytes(b"tampered")
    assert layout.verify_sums(tmp_path) == [f"{tmp_path / 'b.deb'}: sha256 differs from SHA256SUMS"]
    (tmp_path / "a.deb").unlink()
    assert f"{tmp_path / 'a.deb'}: listed in SHA256SUMS but missing" in layout.verify_sums(tmp_path)


def test_image_list_round_trip_ignores_garbage(tmp_path: Path) -> None:
    entry = layout.ImageEntry("registry.k8s.io/pause:3.10.2", "sha256:" + "a" * 64, "pause_3.10.2.tar")
    layout.write_images(tmp_path, [entry])
    with (tmp_path / layout.IMAGES_LIST).open("a") as fh:
        fh.write("not a line\nx sha256:short y.tar\n../evil sha256:" + "b" * 64 + " ../x.tar\n")
    assert layout.read_images(tmp_path) == [entry]


def test_image_file_names() -> None:
    assert layout.image_file_name("registry.k8s.io/coredns/coredns:v1.14.2") == "coredns_v1.14.2.tar"
    assert layout.image_file_name("ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3") == \
        "flannel-cni-plugin_v1.9.1-flannel3.tar"


def _oci_archive(path: Path, manifests: int = 1) -> None:
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": f"sha256:{i:064x}", "size": 1,
         "annotations": {"org.opencontainers.image.ref.name": "v1"}} for i in range(manifests)]}
    with tarfile.open(path, "w") as tar:
        files = (("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", json.dumps(index).encode()),
                 ("blobs/sha256/00", b"blob"))
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_archive_is_named_for_containerd(tmp_path: Path) -> None:
    _oci_archive(tmp_path / "in.tar")
    digest = images.name_archive(tmp_path / "in.tar", tmp_path / "out.tar", "registry.k8s.io/etcd:3.6.8-0")
    assert digest == f"sha256:{0:064x}"
    with tarfile.open(tmp_path / "out.tar") as tar:
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        assert tar.extractfile("blobs/sha256/00").read() == b"blob"  # type: ignore[union-attr]
    annotations = index["manifests"][0]["annotations"]
    assert annotations == {"org.opencontainers.image.ref.name": "3.6.8-0",
                           "io.containerd.image.name": "registry.k8s.io/etcd:3.6.8-0"}


def test_archive_with_two_manifests_is_refused(tmp_path: Path) -> None:
    _oci_archive(tmp_path / "in.tar", manifests=2)
    with pytest.raises(Exception, match="expected one manifest"):
        images.name_archive(tmp_path / "in.tar", tmp_path / "out.tar", "x/y:1")


def test_containerfile_of_an_image() -> None:
    image = images.Image("registry.k8s.io/coredns/coredns:v1.14.2", {"/coredns": Path("/bin/true")},
                         entrypoint=("/coredns",))
    text = image.containerfile()
    assert text.startswith("FROM scratch\nCOPY rootfs/ /\n") and 'ENTRYPOINT ["/coredns"]' in text
    debian = images.Image("registry.k8s.io/kube-proxy:v1.36.3", {}, debian=True).containerfile()
    assert debian.startswith(f"FROM {images.BASE_IMAGE}\n")
    assert image.key("base1") != images.Image(image.ref, image.files).key("base1")  # entrypoint counts


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_kubelet_package_is_shaped_like_the_official_one(tmp_path: Path) -> None:
    bins = tmp_path / "bins"
    bins.mkdir()
    for name in ("kubeadm", "kubectl", "kubelet", "crictl", "bridge", "host-local"):
        (bins / name).write_text("#!/bin/sh\n")
    packages = {p.name: p for p in debs.kubernetes_packages("1.36.3", bins, bins, bins, bins, "1.36.0", "1.9.1")}
    assert list(packages) == ["cri-tools", "kubernetes-cni", "kubelet", "kubectl", "kubeadm"]  # install order
    kubelet = debs.build(packages["kubelet"], tmp_path)
    assert kubelet.name == f"kubelet_1.36.3-1.1_{debs.arch()}.deb"
    info = subprocess.run(["dpkg-deb", "--field", str(kubelet)], capture_output=True, text=True, check=True).stdout
    assert "Version: 1.36.3-1.1" in info and "Depends: iptables (>= 1.4.21), kubernetes-cni (>= 1.2.0)" in info
    listing = subprocess.run(["dpkg-deb", "-c", str(kubelet)], capture_output=True, text=True, check=True).stdout
    assert "./usr/bin/kubelet" in listing and "./usr/lib/systemd/system/kubelet.service" in listing
    assert "root/root" in listing and "./etc/default/kubelet" in listing
    kubeadm = debs.build(packages["kubeadm"], tmp_path)
    listing = subprocess.run(["dpkg-deb", "-c", str(kubeadm)], capture_output=True, text=True, check=True).stdout
    assert "kubelet.service.d/10-kubeadm.conf" in listing


def test_dropin_runs_the_kubelet_with_kubeadm_files() -> None:
    assert "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env" in debs.KUBEADM_DROPIN
    assert debs.KUBEADM_DROPIN.index("kubeadm-flags.env") < debs.KUBEADM_DROPIN.index("/etc/default/kubelet")


def test_kubernetes_stamp_reports_the_release() -> None:
    flags = recipes.kubernetes_stamp("1.36.3", "2026-07-22T18:07:38Z")
    assert "-X k8s.io/component-base/version.gitVersion=v1.36.3" in flags
    assert "-X k8s.io/client-go/pkg/version.gitMinor=36" in flags


@pytest.mark.parametrize("component", recipes.ALL, ids=lambda c: "-".join(sorted(c.binaries))[:30])
def test_every_recipe_requires_its_pinned_version(component: recipes.GoComponent) -> None:
    go_mod = (recipes.GO_RECIPES / component.name / "go.mod").read_text()
    assert f"{component.module} {component.version}" in go_mod
    assert (recipes.GO_RECIPES / component.name / "go.sum").is_file()
    for package in component.binaries.values():
        assert package in go_mod, f"{package} is not a tool of recipes/go/{component.name}"


def test_kubernetes_recipe_replaces_every_staging_module_with_the_matching_version() -> None:
    go_mod = (recipes.GO_RECIPES / "kubernetes" / "go.mod").read_text()
    replaces = [line.split() for line in go_mod.splitlines() if "=>" in line]
    assert len(replaces) >= 33
    assert all(r[0] == r[2] and r[3] == "v0.36.3" for r in replaces)
