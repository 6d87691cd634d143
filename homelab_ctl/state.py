"""Where a cluster's local state lives: next to its spec, in .homelab-ctl/<cluster name>/.

Holds the rendered inventory, logs, recorded hardware identity, generated secrets and the admin
kubeconfig. A .gitignore inside keeps it out of a repository that versions the spec.
"""

from __future__ import annotations

from pathlib import Path

from homelab_ctl.spec import Loaded


def state_dir(loaded: Loaded, create: bool = True) -> Path:
    path = loaded.base_dir / ".homelab-ctl" / loaded.cluster.name
    if create:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# local state of homelab-ctl: secrets and kubeconfigs, never commit\n*\n")
    return path


def encryption_key(loaded: Loaded) -> str:
    """The aescbc key for Secrets at rest: generated once, kept 0600 in the state dir.

    Losing it makes the Secrets in etcd unreadable, so it is never regenerated."""
    import base64
    import os

    path = state_dir(loaded) / "secrets" / "encryption-key"
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(mode=0o700, exist_ok=True)
    key = base64.b64encode(os.urandom(32)).decode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key
