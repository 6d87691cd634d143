"""Fetch / verify / cache / lock against a real HTTP server on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from homelab_ctl.addons import artifacts, catalog
from homelab_ctl.addons.artifacts import ArtifactError, LockFile, fetch
from homelab_ctl.addons.catalog import PinnedFile
from homelab_ctl.spec import load
from tests.unit.addons.loopback import FileServer, serve

CONTENT = b"kind: ConfigMap\napiVersion: v1\nmetadata: {name: demo}\n"
SHA = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FileServer]:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)  # 127.0.0.1 directly, never through a proxy
    with serve() as files:
        yield files


def pinned(server: FileServer, path: str = "/demo/v1/demo.yaml", sha256: str | None = SHA) -> PinnedFile:
    server.files.setdefault(path, CONTENT)
    return PinnedFile("demo", "v1", "demo.yaml", server.url(path), sha256)


def test_download_verifies_then_serves_from_cache(server: FileServer, tmp_path: Path) -> None:
    file = pinned(server)
    first = fetch(file, cache_dir=tmp_path / "cache")
    assert (first.source, first.sha256, first.path) == ("download", SHA, tmp_path / "cache" / SHA)
    assert first.path.read_bytes() == CONTENT
    second = fetch(file, cache_dir=tmp_path / "cache")
    assert second.source == "cache" and second.path == first.path
    assert server.requests == ["/demo/v1/demo.yaml"]  # the second run did not touch the network


def test_corrupted_cache_entry_is_downloaded_again(server: FileServer, tmp_path: Path) -> None:
    file = pinned(server)
    cached = fetch(file, cache_dir=tmp_path).path
    cached.write_bytes(b"bit rot")
    again = fetch(file, cache_dir=tmp_path)
    assert again.source == "download" and again.path.read_bytes() == CONTENT


def test_pinned_mismatch_is_a_hard_error_naming_url_expected_and_got(server: FileServer, tmp_path: Path) -> None:
    file = pinned(server)
    server.files["/demo/v1/demo.yaml"] = b"tampered\n"
    with pytest.raises(ArtifactError) as caught:
        fetch(file, cache_dir=tmp_path)
    got = hashlib.sha256(b"tampered\n").hexdigest()
    assert caught.value.message == f"sha256 mismatch for {file.url}: expected {SHA}, got {got}"
    assert list(tmp_path.iterdir()) == []  # neither the bad file nor a temporary one is left behind


def test_unpinned_file_is_recorded_in_the_lock_file_then_verified(server: FileServer, tmp_path: Path) -> None:
    file = pinned(server, "/release/v9/operator.yaml", sha256=None)
    lock_file = tmp_path / "spec" / artifacts.LOCK_NAME
    lock_file.parent.mkdir()
    fetched = fetch(file, cache_dir=tmp_path / "cache", lock=LockFile.load(lock_file))
    assert fetched.source == "download" and fetched.sha256 == SHA
    text = lock_file.read_text()
    assert text.startswith("# homelab-ctl.lock") and yaml.safe_load(text) == {"files": {file.url: SHA}}

    # A later run (new process: lock read from disk) verifies against the recorded sum, from the cache.
    assert fetch(file, cache_dir=tmp_path / "cache", lock=LockFile.load(lock_file)).source == "cache"

    # Upstream re-publishes different bytes under the same URL: refused, the lock is not rewritten.
    server.files["/release/v9/operator.yaml"] = b"re-released\n"
    with pytest.raises(ArtifactError, match=re.escape(f"sha256 mismatch for {file.url}: expected {SHA}, got ")) as e:
        fetch(file, cache_dir=tmp_path / "other-cache", lock=LockFile.load(lock_file))
    assert str(lock_file) in (e.value.hint or "")
    assert yaml.safe_load(lock_file.read_text()) == {"files": {file.url: SHA}}


def test_unpinned_file_without_a_lock_is_a_programming_error(server: FileServer, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no pinned sha256"):
        fetch(pinned(server, sha256=None), cache_dir=tmp_path)


def test_http_errors_name_the_url(server: FileServer, tmp_path: Path) -> None:
    file = PinnedFile("demo", "v1", "gone.yaml", server.url("/gone.yaml"), SHA)
    with pytest.raises(ArtifactError, match=re.escape(f"download failed: {file.url}: HTTP 404")) as caught:
        fetch(file, cache_dir=tmp_path)
    assert "--artifacts" in (caught.value.hint or "")


def test_connection_refused(tmp_path: Path) -> None:
    with serve() as stopped:
        url = stopped.url("/x.yaml")
    with pytest.raises(ArtifactError, match=re.escape(f"download failed: {url}: ")):
        fetch(PinnedFile("demo", "v1", "x.yaml", url, SHA), cache_dir=tmp_path, timeout=5)


def test_lock_file_that_is_not_one(tmp_path: Path) -> None:
    bad = tmp_path / artifacts.LOCK_NAME
    bad.write_text("files: [1, 2]\n")
    with pytest.raises(ArtifactError, match="not a homelab-ctl lock file"):
        LockFile.load(bad)


# -- offline mirror


def test_mirror_layouts_and_no_network(server: FileServer, tmp_path: Path) -> None:
    file = PinnedFile("demo", "v1", "demo.yaml", server.url("/never"), SHA)
    for layout in (Path("demo") / "v1", Path("demo-v1")):
        mirror = tmp_path / str(layout).replace("/", "_")
        (mirror / layout).mkdir(parents=True)
        (mirror / layout / "demo.yaml").write_bytes(CONTENT)
        fetched = fetch(file, mirror=mirror, cache_dir=tmp_path / "cache")
        assert fetched.source == "mirror" and fetched.path == mirror / layout / "demo.yaml"
    assert server.requests == []


def test_mirror_missing_file_and_tampered_file(tmp_path: Path) -> None:
    file = PinnedFile("demo", "v1", "demo.yaml", "https://example.invalid/demo.yaml", SHA)
    with pytest.raises(ArtifactError, match=re.escape(f"not in the offline mirror {tmp_path} (expected "
                                                      f"{tmp_path / 'demo' / 'v1' / 'demo.yaml'})")):
        fetch(file, mirror=tmp_path)
    (tmp_path / "demo" / "v1").mkdir(parents=True)
    (tmp_path / "demo" / "v1" / "demo.yaml").write_bytes(b"other\n")
    with pytest.raises(ArtifactError, match=r"sha256 mismatch for .*demo\.yaml: expected"):
        fetch(file, mirror=tmp_path)


def test_unpinned_file_from_a_mirror_is_locked_too(tmp_path: Path) -> None:
    file = PinnedFile("demo", "v1", "demo.yaml", "https://example.invalid/demo.yaml", None)
    (tmp_path / "demo" / "v1").mkdir(parents=True)
    (tmp_path / "demo" / "v1" / "demo.yaml").write_bytes(CONTENT)
    lock = LockFile(tmp_path / artifacts.LOCK_NAME)
    fetch(file, mirror=tmp_path, lock=lock)
    assert LockFile.load(lock.path).get(file.url) == SHA


# -- the real pin


def test_flannel_pin_matches_the_upstream_file(upstream: Path) -> None:
    sums = dict(reversed(line.split()) for line in (upstream / "SHA256SUMS").read_text().splitlines())
    assert catalog.FLANNEL_MANIFEST.sha256 == sums["./flannel-v0.28.9/kube-flannel.yml"]
    assert catalog.FLANNEL_MANIFEST.url == (
        "https://raw.githubusercontent.com/flannel-io/flannel/v0.28.9/Documentation/kube-flannel.yml")
    # the shared upstream folder is itself a valid mirror (<component>-<version>/<file>)
    assert fetch(catalog.FLANNEL_MANIFEST, mirror=upstream).source == "mirror"


def test_real_flannel_manifest_over_http(server: FileServer, upstream: Path, tmp_path: Path) -> None:
    body = (upstream / "flannel-v0.28.9" / "kube-flannel.yml").read_bytes()
    server.files["/flannel-io/flannel/v0.28.9/Documentation/kube-flannel.yml"] = body
    real = catalog.FLANNEL_MANIFEST
    local = PinnedFile(real.component, real.version, real.name,
                       server.url("/flannel-io/flannel/v0.28.9/Documentation/kube-flannel.yml"), real.sha256)
    fetched = fetch(local, cache_dir=tmp_path)
    assert fetched.sha256 == real.sha256 and fetched.read_text().startswith("---\nkind: Namespace")


def test_where_the_lock_and_mirror_are(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"
    spec.write_text("apiVersion: homelab-ctl/v1alpha1\nkind: Cluster\nmetadata: {name: t}\nspec:\n"
                    "  artifacts: {dir: mirror}\n  nodes: [{name: a, address: 10.0.0.1, roles: [control-plane]}]\n")
    loaded = load(spec)
    assert artifacts.lock_path(loaded) == tmp_path / "homelab-ctl.lock"
    assert artifacts.mirror_dir(loaded) == tmp_path / "mirror"
    assert artifacts.mirror_dir(loaded, Path("/srv/m")) == Path("/srv/m")


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert artifacts.default_cache_dir() == tmp_path / "homelab-ctl" / "artifacts"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert artifacts.default_cache_dir() == Path.home() / ".cache" / "homelab-ctl" / "artifacts"
