"""Fetch, verify and cache the files add-ons are deployed from.

A file's sha256 is pinned in the catalog, or, for files published without a known sum, recorded
in the lock file next to the spec on first download and verified on every later run. A mismatch
is a hard error. Downloads land in ~/.cache/homelab-ctl/artifacts/<sha256>; with an offline
mirror (spec.artifacts.dir or --artifacts DIR) nothing is downloaded: files are read from
<dir>/<component>/<version>/<name> (or <dir>/<component>-<version>/<name>) and verified the same way.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from homelab_ctl import __version__
from homelab_ctl.addons.catalog import PinnedFile
from homelab_ctl.errors import HomelabError

if TYPE_CHECKING:
    from homelab_ctl.spec import Loaded

LOCK_NAME = "homelab-ctl.lock"
MAX_BYTES = 64 * 1024 * 1024  # release manifests are a few MiB; anything bigger is not what we asked for
_CHUNK = 1 << 16
_MIRROR_HINT = ("without internet access, pass --artifacts DIR (or set spec.artifacts.dir) to an offline "
                "mirror laid out as DIR/<component>/<version>/<file>")


class ArtifactError(HomelabError):
    """A file could not be fetched, or is not the file that was pinned."""


@dataclass(frozen=True)
class Fetched:
    path: Path
    sha256: str
    source: Literal["cache", "download", "mirror"]

    def read_text(self) -> str:
        return self.path.read_text(encoding="utf-8")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "homelab-ctl" / "artifacts"


def lock_path(loaded: Loaded) -> Path:
    return loaded.base_dir / LOCK_NAME


def mirror_dir(loaded: Loaded, override: Path | None = None) -> Path | None:
    """--artifacts DIR wins over spec.artifacts.dir (relative to the spec file); None: download."""
    if override is not None:
        return override.expanduser().resolve()
    configured = loaded.cluster.spec.artifacts.dir
    if configured is None:
        return None
    return (loaded.base_dir / Path(configured).expanduser()).resolve()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class LockFile:
    """homelab-ctl.lock: url -> sha256 of files first downloaded without a pinned sum."""

    HEADER = (
        "# homelab-ctl.lock: sha256 of downloaded files that homelab-ctl does not pin itself.\n"
        "# Recorded on first download, verified on every later run (a mismatch is an error).\n"
        "# Keep it next to the spec and commit it with the spec.\n"
    )

    def __init__(self, path: Path, files: dict[str, str] | None = None) -> None:
        self.path = path
        self.files: dict[str, str] = dict(files or {})

    @classmethod
    def load(cls, path: Path) -> LockFile:
        import yaml

        if not path.exists():
            return cls(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ArtifactError(f"{path}: cannot read the lock file: {exc}") from None
        files = data.get("files") if isinstance(data, dict) else None
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and len(v) == 64 for k, v in files.items()
        ):
            raise ArtifactError(f"{path}: not a homelab-ctl lock file (expected files: {{url: sha256}})")
        return cls(path, files)

    def get(self, url: str) -> str | None:
        return self.files.get(url)

    def record(self, url: str, sha256: str) -> None:
        import yaml

        self.files[url] = sha256
        text = self.HEADER + yaml.safe_dump({"files": dict(sorted(self.files.items()))}, sort_keys=False)
        _write_atomic(self.path, text.encode("utf-8"), mode=0o644)


def fetch(
    file: PinnedFile,
    *,
    cache_dir: Path | None = None,
    mirror: Path | None = None,
    lock: LockFile | None = None,
    timeout: float = 60.0,
) -> Fetched:
    """The verified file: from the mirror when one is given, else from the cache or a download."""
    expected = file.sha256 or (lock.get(file.url) if lock is not None else None)
    if expected is None and lock is None:
        raise ValueError(f"{file.url} has no pinned sha256: pass the lock file to record it")
    if mirror is not None:
        return _from_mirror(file, mirror, expected, lock)
    cache = cache_dir or default_cache_dir()
    if expected is not None:
        cached = cache / expected
        if cached.is_file() and sha256_file(cached) == expected:
            return Fetched(cached, expected, "cache")
    cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    got, tmp = _download(file.url, cache, timeout)
    try:
        _verify(file, expected, got, where=file.url, lock=lock)
        target = cache / got
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    if expected is None and lock is not None:
        lock.record(file.url, got)
    return Fetched(target, got, "download")


def _from_mirror(file: PinnedFile, mirror: Path, expected: str | None, lock: LockFile | None) -> Fetched:
    candidates = [mirror / file.component / file.version / file.name,
                  mirror / f"{file.component}-{file.version}" / file.name]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise ArtifactError(
            f"{file.component} {file.version}: {file.name} is not in the offline mirror {mirror} "
            f"(expected {candidates[0]})",
            hint=f"download {file.url} to that path",
        )
    got = sha256_file(path)
    _verify(file, expected, got, where=str(path), lock=lock)
    if expected is None and lock is not None:
        lock.record(file.url, got)
    return Fetched(path, got, "mirror")


def _verify(file: PinnedFile, expected: str | None, got: str, *, where: str, lock: LockFile | None) -> None:
    if expected is None or got == expected:
        return
    if file.sha256 is not None:
        hint = "this is not the upstream file homelab-ctl pins: refusing to use it"
    else:
        hint = (f"the file changed since its sum was recorded in {lock.path if lock else LOCK_NAME}; "
                "if you trust the new file, delete its entry there and run again")
    raise ArtifactError(f"sha256 mismatch for {where}: expected {expected}, got {got}", hint=hint)


def _download(url: str, directory: Path, timeout: float) -> tuple[str, Path]:
    """Stream `url` into a temporary file in `directory`; its sha256 and path."""
    if not url.startswith(("https://", "http://")):
        raise ArtifactError(f"refusing to download {url}: only http(s) URLs")
    request = urllib.request.Request(url, headers={"User-Agent": f"homelab-ctl/{__version__}"})
    fd, name = tempfile.mkstemp(dir=directory, prefix=".download-")
    tmp = Path(name)
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            while chunk := response.read(_CHUNK):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise ArtifactError(f"download of {url} exceeds {MAX_BYTES // (1024 * 1024)} MiB: refusing it")
                digest.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        tmp.unlink(missing_ok=True)
        raise ArtifactError(f"download failed: {url}: HTTP {exc.code} {exc.reason}", hint=_MIRROR_HINT) from None
    except (urllib.error.URLError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise ArtifactError(f"download failed: {url}: {reason}", hint=_MIRROR_HINT) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return digest.hexdigest(), tmp


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(name, mode)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
