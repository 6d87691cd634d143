"""Where the Ansible content lives: playbooks/ and roles/ at the root of the repository that
contains this package (an editable install or a checkout), or HOMELAB_CTL_ANSIBLE_DIR."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from homelab_ctl.errors import HomelabError

ENV_OVERRIDE = "HOMELAB_CTL_ANSIBLE_DIR"


@dataclass(frozen=True)
class AnsiblePaths:
    root: Path
    playbooks: Path
    roles: Path

    @property
    def config(self) -> Path | None:
        """The repository's ansible.cfg, so that runs through homelab-ctl match plain ansible-playbook."""
        cfg = self.root / "ansible.cfg"
        return cfg if cfg.is_file() else None

    def playbook(self, name: str | Path) -> Path:
        """'site.yml' -> <playbooks>/site.yml; an absolute path is used as it is."""
        path = Path(name)
        return path if path.is_absolute() else self.playbooks / path


def ansible_paths() -> AnsiblePaths:
    override = os.environ.get(ENV_OVERRIDE)
    root = Path(override).expanduser().resolve() if override else Path(__file__).resolve().parents[2]
    paths = AnsiblePaths(root, root / "playbooks", root / "roles")
    missing = [p for p in (paths.playbooks, paths.roles) if not p.is_dir()]
    if missing:
        raise HomelabError(
            f"Ansible content not found: {', '.join(str(p) for p in missing)} missing",
            hint=f"run homelab-ctl from a checkout of its repository, or set {ENV_OVERRIDE} to one",
        )
    return paths
