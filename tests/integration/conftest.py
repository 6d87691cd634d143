"""Lab fixtures for integration tests: real systemd machines (podman) reached over SSH on 127.0.0.1.

    def test_something(lab3: Lab) -> None:      # 3 control planes, shared by the whole session
        lab3.spec_path, lab3.key_path, lab3.known_hosts_path, lab3.machines[0].ssh_port ...

    def test_other(make_lab) -> None:           # a lab of its own shape, removed at session end
        lab = make_lab(control_planes=1, workers=2)

Tests that use them get the `lab` marker automatically. A test that stops a machine of lab3 must
start it again (homelab_ctl.lab.machines.start) before it ends.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from itertools import count

import pytest

from homelab_ctl.lab import machines
from homelab_ctl.lab.model import Lab

LAB_FIXTURES = {"lab3", "make_lab"}
MakeLab = Callable[..., Lab]
_RUN = secrets.token_hex(2)  # one run's labs never collide with another run's (or a user's)
_numbers = count(1)


def unique_name(prefix: str = "t") -> str:
    """A fresh lab name for this test run, e.g. t-3fa2-4."""
    return f"{prefix}-{_RUN}-{next(_numbers)}"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if LAB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.lab)
            # with pytest-xdist: every lab test on one worker (labs booting in parallel with other
            # labs proved flaky on 2 cores), Molecule scenarios spread over the others
            item.add_marker(pytest.mark.xdist_group("lab"))


@pytest.fixture(scope="session")
def make_lab(lab_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeLab]:
    """Factory of labs (control_planes=1, workers=0 by default); all removed at session end,
    also when tests fail."""
    names: list[str] = []

    def make(control_planes: int = 1, workers: int = 0, name: str | None = None) -> Lab:
        name = name or unique_name()
        names.append(name)  # before up: a half-made lab is removed too
        return machines.up(name, control_planes, workers, tmp_path_factory.mktemp(name))

    yield make
    failures = []
    for name in names:
        try:
            machines.down(name)
        except Exception as exc:  # remove the other labs all the same
            failures.append(f"{name}: {exc}")
    assert not failures, f"lab teardown failed: {failures}"


@pytest.fixture(scope="session")
def lab3(make_lab: MakeLab) -> Lab:
    """Three control-plane machines (HA shape: the spec has a VIP), shared by the session."""
    return make_lab(control_planes=3, workers=0)
