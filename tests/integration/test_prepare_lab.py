"""playbooks/prepare.yml over real SSH on 3 lab machines, through the inventory `render` writes:
the first run prepares them, the second run changes nothing on any host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from homelab_ctl.lab.model import Lab
from homelab_ctl.render import inventory
from homelab_ctl.runner import run_playbook
from homelab_ctl.spec import load


@pytest.fixture(scope="module")
def lab(make_lab: Any) -> Lab:
    made: Lab = make_lab(control_planes=3, workers=0)
    return made


def test_prepare_twice_second_run_changes_nothing(lab: Lab, tmp_path: Path) -> None:
    loaded = load(lab.spec_path)
    inv = tmp_path / "inventory"
    inventory.write(inventory.files(loaded), inv)

    first = run_playbook("prepare.yml", inv, stage="prepare", state_dir=tmp_path)
    assert first.ok
    assert sorted(first.hosts) == sorted(m.name for m in lab.machines)
    assert all(stats.changed > 0 for stats in first.hosts.values())

    second = run_playbook("prepare.yml", inv, stage="prepare", state_dir=tmp_path)
    assert second.ok
    assert {host: stats.changed for host, stats in second.hosts.items()} == {m.name: 0 for m in lab.machines}
