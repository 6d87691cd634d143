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
