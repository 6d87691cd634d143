"""Output directories that `render` owns: written whole into a temporary directory next to the
target, then swapped in, so that no stale file survives (Ansible would read an old group_vars file
over the new ones) and a failed render leaves the previous output as it was.

A marker file says the directory is ours; any other non-empty directory is refused unless forced.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from homelab_ctl.errors import UsageError
from homelab_ctl.spec.show import path as show_path

MARKER = ".homelab-ctl-render"
MARKER_TEXT = ("Written by `homelab-ctl render`: this directory is replaced whole on every render.\n"
               "Edit the spec and render again instead of editing these files.\n")
_TMP = ".homelab-ctl-tmp-"


@dataclass(frozen=True)
class Result:
    written: int
    changed: list[str]
    removed: list[str]


def _absolute(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def check(target: Path, option: str, *, force: bool, keep: tuple[Path, ...] = ()) -> Path:
    """The directory to replace (resolved), or UsageError: refused before anything is written."""
    shown = f"{option} {show_path(target)}"
    resolved = _absolute(target)
    try:
        here = Path.cwd()
    except OSError:
        here = Path("/nonexistent")
    if resolved == resolved.parent or resolved in (here, *here.parents):
        raise UsageError(f"{shown}: is the current directory or one above it; name a directory for the output")
    for path in keep:
        if _absolute(path).is_relative_to(resolved):
            raise UsageError(f"{shown}: holds {show_path(path)}, which render must not replace; "
                             "write the output somewhere else")
    try:
        if resolved.exists() and not resolved.is_dir():
            raise UsageError(f"{shown}: is a file, not a directory")
        if resolved.is_dir() and not (resolved / MARKER).is_file() and any(resolved.iterdir()) and not force:
            raise UsageError(f"{shown}: exists and was not written by homelab-ctl render (no {MARKER} file); "
                             "render replaces its output directory whole: choose a new or empty directory, "
                             "or pass --force to replace this one")
    except OSError as exc:
        raise UsageError(f"{shown}: cannot use: {exc.strerror or exc}") from None
    return resolved


def _old_files(target: Path) -> dict[str, bytes]:
    if not target.is_dir():
        return {}
    return {str(p.relative_to(target)): p.read_bytes() for p in target.rglob("*")
            if p.is_file() and not p.is_symlink() and p.name != MARKER}


def replace(target: Path, files: dict[str, str], shown: str) -> Result:
    """Make `target` (from check()) hold exactly `files`, or raise UsageError (the message starts with
    `shown`, e.g. '-o inv') and leave it as it was."""
    tmp: Path | None = None
    try:
        old = _old_files(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=_TMP, dir=target.parent))
        for rel, text in sorted({**files, MARKER: MARKER_TEXT}.items()):
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            path.chmod(0o644)
        for directory in (tmp, *(p for p in tmp.rglob("*") if p.is_dir())):
            directory.chmod(0o755)
        _swap(tmp, target)
        tmp = None
    except (FileExistsError, NotADirectoryError):
        raise UsageError(f"{shown}: cannot write: a part of the path is a file, not a directory") from None
    except OSError as exc:
        raise UsageError(f"{shown}: cannot write: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    new = {rel: text.encode() for rel, text in files.items()}
    return Result(len(files), sorted(r for r in new if old.get(r) != new[r]), sorted(set(old) - set(new)))


def _swap(new: Path, target: Path) -> None:
    if not target.exists():
        os.rename(new, target)
        return
    new.chmod(target.stat().st_mode & 0o7777)  # keep the mode the user gave the directory
    old = Path(tempfile.mkdtemp(prefix=_TMP, dir=target.parent))
    os.rename(target, old / "old")
    try:
        os.rename(new, target)
    except OSError as exc:
        try:
            os.rename(old / "old", target)
        except OSError:
            raise UsageError(f"{show_path(target)}: cannot write: {exc.strerror or exc}; the previous output "
                             f"is kept in {show_path(old / 'old')}") from None
        old.rmdir()
        raise
    shutil.rmtree(old, ignore_errors=True)
