from __future__ import annotations

from pathlib import Path

import pytest

from homelab_ctl.errors import HomelabError
from homelab_ctl.runner import ansible_paths
from homelab_ctl.runner.paths import ENV_OVERRIDE
from homelab_ctl.runner.run import ansible_env

REPO = Path(__file__).resolve().parents[3]


def test_default_is_the_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_OVERRIDE, raising=False)
    if not ((REPO / "playbooks").is_dir() and (REPO / "roles").is_dir()):
        with pytest.raises(HomelabError, match="Ansible content not found"):
            ansible_paths()
        return
    paths = ansible_paths()
    assert (paths.root, paths.playbooks, paths.roles) == (REPO, REPO / "playbooks", REPO / "roles")
    assert paths.playbook("site.yml") == REPO / "playbooks" / "site.yml"
    assert paths.playbook("/abs/x.yml") == Path("/abs/x.yml")


def test_override_and_missing_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_OVERRIDE, str(tmp_path))
    with pytest.raises(HomelabError, match=r"playbooks.*roles"):
        ansible_paths()
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "roles").mkdir()
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    paths = ansible_paths()
    env = ansible_env(paths, {"EXTRA": "1"})
    assert env["ANSIBLE_ROLES_PATH"] == str(tmp_path / "roles")
    assert env["ANSIBLE_HOST_KEY_CHECKING"] == "True" and env["ANSIBLE_FORCE_COLOR"] == "0"
    assert env["ANSIBLE_CONFIG"] == str(tmp_path / "ansible.cfg") and env["EXTRA"] == "1"
