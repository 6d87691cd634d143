"""Where a cluster's local state lives: next to its spec, in .homelab-ctl/<cluster name>/.

Holds the rendered inventory, logs, recorded hardware identity, generated secrets, the admin
kubeconfig and the record of the last converged run. A .gitignore inside keeps it out of a
repository that versions the spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from homelab_ctl.spec import Loaded

if TYPE_CHECKING:
    from homelab_ctl.plan.drift import Converged


def state_dir(loaded: Loaded, create: bool = True) -> Path:
    path = loaded.base_dir / ".homelab-ctl" / loaded.cluster.name
    if create:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# local state of homelab-ctl: secrets and kubeconfigs, never commit\n*\n")
    return path


def encryption_key(loaded: Loaded, create: bool = True) -> str | None:
    """The aescbc key for Secrets at rest: generated once, kept 0600 in the state dir (None when
    it does not exist yet and create is false).

    Losing it makes the Secrets in etcd unreadable, so it is never regenerated."""
    import base64
    import os

    path = state_dir(loaded, create=create) / "secrets" / "encryption-key"
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    if not create:
        return None
    path.parent.mkdir(mode=0o700, exist_ok=True)
    key = base64.b64encode(os.urandom(32)).decode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key


CONVERGED = "converged.json"


def read_converged(loaded: Loaded) -> Converged | None:
    """The record of the last converged `up`; None when there is none or it cannot be read."""
    import json

    from homelab_ctl.plan.drift import Converged

    path = state_dir(loaded, create=False) / CONVERGED
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        hosts = {str(h): {str(k): str(v) for k, v in values.items()} for h, values in data["hosts"].items()}
        return Converged(inputs=str(data["inputs"]), hosts=hosts)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_converged(loaded: Loaded, record: Converged) -> None:
    import json

    path = state_dir(loaded) / CONVERGED
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"inputs": record.inputs, "hosts": record.hosts}, indent=1, sort_keys=True) + "\n",
                   encoding="utf-8")
    tmp.replace(path)


def forget_converged(loaded: Loaded) -> None:
    """Before playbooks run: a run that fails half-way must not leave the old record standing."""
    (state_dir(loaded, create=False) / CONVERGED).unlink(missing_ok=True)
