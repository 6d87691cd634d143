"""What the spec points at on this machine: SSH keys, known_hosts, secret files and variables, the
offline mirror. Checked by validate, render and up, so that a moved file fails here and not on the
machines. Paths are relative to the spec file; '~' is this user's home, as for ssh and Ansible.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from homelab_ctl.spec.partial import Known
from homelab_ctl.spec.problems import Loc, Problem
from homelab_ctl.spec.show import path as show_path
from homelab_ctl.spec.show import quote

if TYPE_CHECKING:
    from homelab_ctl.spec.models import ClusterSpec, SecretRef

Kind = Literal["file", "dir"]
S: Loc = ("spec",)


def local(value: str, base: Path) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else base / path


def problem(path: Path, kind: Kind) -> str | None:
    """Why `path` is not a readable file (or directory), or None."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return "does not exist"
    except NotADirectoryError:
        return "does not exist (a part of the path is a file)"
    except PermissionError:
        return "cannot be read (permission denied)"
    except (OSError, ValueError) as exc:
        return f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
    if kind == "file" and stat.S_ISDIR(info.st_mode):
        return "is a directory, not a file"
    if kind == "file" and not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    if kind == "dir" and not stat.S_ISDIR(info.st_mode):
        return "is not a directory"
    if not os.access(path, os.R_OK | (os.X_OK if kind == "dir" else 0)):
        return "cannot be read (permission denied)"
    return None


def _say(value: str, path: Path, why: str) -> str:
    where = "" if str(path) == value else f" ({show_path(path)})"
    return f"{quote(value)}{where} {why}"


def _check(loc: Loc, value: str | None, base: Path, kind: Kind, what: str) -> Iterator[Problem]:
    if value is None:
        return
    path = local(value, base)
    why = problem(path, kind)
    if why:
        yield Problem(S + loc, f"{what} {_say(value, path, why)}")


def _known_hosts(loc: Loc, value: str | None, base: Path, explicit: bool) -> Iterator[Problem]:
    """A missing known_hosts file is normal before the first --accept-new-host-keys (it is created)."""
    if value is None:
        return
    path = local(value, base)
    why = problem(path, "file")
    if why == "does not exist":
        if explicit:
            yield Problem(S + loc, f"known_hosts file {_say(value, path, why)} yet: it is created when you accept "
                                   "the host keys (preflight or up --accept-new-host-keys)", severity="warning")
    elif why:
        yield Problem(S + loc, f"known_hosts file {_say(value, path, why)}")


def _secret(loc: Loc, ref: SecretRef | None, base: Path) -> Iterator[Problem]:
    if ref is None:
        return
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if value is None:
            yield Problem((*S, *loc, "env"), f"environment variable {ref.env} is not set")
        elif not value:
            yield Problem((*S, *loc, "env"), f"environment variable {ref.env} is empty")
    if ref.file is not None:
        path = local(ref.file, base)
        why = problem(path, "file")
        if why is None and path.stat().st_size == 0:
            why = "is empty"
        if why:
            yield Problem((*S, *loc, "file"), f"secret file {_say(ref.file, path, why)}")


def check(spec: ClusterSpec, ok: Known, base: Path) -> Iterator[Problem]:
    if ok("ssh"):
        yield from _check(("ssh", "privateKeyFile"), spec.ssh.private_key_file, base, "file", "SSH key")
        yield from _known_hosts(("ssh", "knownHostsFile"), spec.ssh.known_hosts_file, base,
                                "known_hosts_file" in spec.ssh.model_fields_set)
    for i, node in enumerate(spec.nodes if ok.present("nodes") else []):
        if ok("nodes", i, "ssh") and node.ssh is not None:
            loc: Loc = ("nodes", i, "ssh")
            yield from _check((*loc, "privateKeyFile"), node.ssh.private_key_file, base, "file", "SSH key")
            yield from _known_hosts((*loc, "knownHostsFile"), node.ssh.known_hosts_file, base, True)
    backup_loc: Loc = ("addons", "postgresOperator", "backup")
    operator = spec.addons.postgres_operator if ok(*backup_loc) else None
    if operator is not None and operator.backup is not None:
        yield from _secret((*backup_loc, "accessKeyId"), operator.backup.access_key_id, base)
        yield from _secret((*backup_loc, "secretAccessKey"), operator.backup.secret_access_key, base)
    if ok("artifacts", "dir"):
        yield from _check(("artifacts", "dir"), spec.artifacts.dir, base, "dir", "offline mirror")
