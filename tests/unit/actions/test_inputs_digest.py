"""The digest of a run's inputs: stable for the same inputs, different when any of them changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from homelab_ctl.actions.up import inputs_digest
from homelab_ctl.runner.paths import ENV_OVERRIDE
from homelab_ctl.spec import load

REPO = Path(__file__).resolve().parents[3]
SPEC = REPO / "tests" / "fixtures" / "specs" / "valid" / "3cp-2w-vip.yaml"


@pytest.fixture()
def ansible_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the roles and playbooks, used instead of the repository's."""
    root = tmp_path / "ansible"
    for part in ("roles", "playbooks"):
        shutil.copytree(REPO / part, root / part)
    shutil.copy(REPO / "ansible.cfg", root / "ansible.cfg")
    monkeypatch.setenv(ENV_OVERRIDE, str(root))
    return root


def test_same_inputs_same_digest_and_nothing_written(ansible_dir: Path) -> None:
    loaded = load(SPEC)
    first = inputs_digest(loaded, {"a": 1}, None)
    assert first == inputs_digest(load(SPEC), {"a": 1}, None)
    assert not (SPEC.parent / ".homelab-ctl").exists()  # no state dir, no key generated


def test_each_input_changes_the_digest(ansible_dir: Path, tmp_path: Path) -> None:
    loaded = load(SPEC)
    base = inputs_digest(loaded, {}, None)
    assert inputs_digest(loaded, {"kube_packages_install": False}, None) != base

    mirror = tmp_path / "mirror"
    (mirror / "images").mkdir(parents=True)
    (mirror / "images" / "SHA256SUMS").write_text("0" * 64 + "  a.tar\n")
    with_mirror = inputs_digest(loaded, {}, mirror)
    assert with_mirror != base
    (mirror / "images" / "SHA256SUMS").write_text("1" * 64 + "  a.tar\n")
    assert inputs_digest(loaded, {}, mirror) != with_mirror

    tasks = ansible_dir / "roles" / "containerd" / "tasks" / "main.yml"
    tasks.write_text(tasks.read_text() + "\n")
    assert inputs_digest(loaded, {}, None) != base


def test_molecule_scenarios_do_not_count(ansible_dir: Path) -> None:
    loaded = load(SPEC)
    base = inputs_digest(loaded, {}, None)
    (ansible_dir / "roles" / "containerd" / "molecule" / "default" / "verify.yml").write_text("# changed\n")
    assert inputs_digest(loaded, {}, None) == base


def test_the_spec_changes_the_digest(ansible_dir: Path, tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"  # same place, so only the content differs
    spec.write_text(SPEC.read_text())
    base = inputs_digest(load(spec), {}, None)
    spec.write_text(SPEC.read_text().replace("backend: host-gw", "backend: vxlan"))
    assert inputs_digest(load(spec), {}, None) != base
    spec.write_text(SPEC.read_text())
    assert inputs_digest(load(spec), {}, None) == base
