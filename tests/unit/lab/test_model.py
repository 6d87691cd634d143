"""Lab layout: machine names, addresses, VIP and MACs (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from homelab_ctl.errors import LabError, UsageError
from homelab_ctl.lab.model import Machine, check_shape, ip_range, mac_for, plan, sort_key


def test_plan_names_addresses_and_vip() -> None:
    lab = plan("home", 3, 2, "10.90.4.0/24", Path("/labs/home"))
    assert [(m.name, m.role, m.ip) for m in lab.machines] == [
        ("home-cp1", "control-plane", "10.90.4.11"),
        ("home-cp2", "control-plane", "10.90.4.12"),
        ("home-cp3", "control-plane", "10.90.4.13"),
        ("home-w1", "worker", "10.90.4.21"),
        ("home-w2", "worker", "10.90.4.22"),
    ]
    assert lab.vip == "10.90.4.200"
    assert lab.vip not in {m.ip for m in lab.machines}
    assert lab.network == "home-net"
    assert lab.spec_path == Path("/labs/home/cluster.yaml")
    assert lab.known_hosts_path == Path("/labs/home/known_hosts")
    assert lab.key_path == Path("/labs/home/id_ed25519")


def test_single_control_plane_has_no_vip() -> None:
    lab = plan("solo", 1, 0, "10.90.0.0/24", Path("/x"))
    assert lab.vip is None
    assert [m.name for m in lab.machines] == ["solo-cp1"]


def test_vip_is_outside_the_range_podman_hands_out() -> None:
    lab = plan("home", 9, 50, "10.90.7.0/24", Path("/x"))
    assert ip_range(lab.subnet) == "10.90.7.0/25"
    assert lab.vip == "10.90.7.200"
    assert len({m.ip for m in lab.machines}) == 59
    assert lab.machines[-1].ip == "10.90.7.70"


@pytest.mark.parametrize(("name", "cps", "workers", "message"), [
    ("Lab", 3, 2, "lab name 'Lab' is not valid"),
    ("-lab", 3, 2, "is not valid"),
    ("x" * 41, 1, 0, "at most 40 characters"),
    ("lab", 2, 2, "--control-planes 2: use an odd number"),
    ("lab", 0, 2, "--control-planes 0"),
    ("lab", 11, 0, "--control-planes 11"),
    ("lab", 1, -1, "--workers -1"),
    ("lab", 1, 51, "--workers 51"),
])
def test_bad_shapes_are_refused(name: str, cps: int, workers: int, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        check_shape(name, cps, workers)


def test_machine_lookup_by_full_or_short_name() -> None:
    lab = plan("home", 1, 1, "10.90.0.0/24", Path("/x"))
    assert lab.machine("w1") == lab.machine("home-w1") == lab.workers[0]
    with pytest.raises(LabError, match="lab home has no machine w9 \\(it has home-cp1, home-w1\\)"):
        lab.machine("w9")


def test_with_machine_replaces_by_name() -> None:
    lab = plan("home", 1, 1, "10.90.0.0/24", Path("/x"))
    updated = lab.with_machine(Machine("home-w1", "worker", "10.90.0.21", 2222, "running"))
    assert updated.machine("w1").ssh_port == 2222
    assert updated.machine("cp1") == lab.machine("cp1")


def test_macs_are_fixed_per_address_and_locally_administered() -> None:
    assert mac_for("10.90.4.11") == "02:4c:61:5a:04:0b"
    assert mac_for("10.90.4.11") != mac_for("10.90.5.11")
    assert int(mac_for("10.90.4.11").split(":")[0], 16) & 0b11 == 0b10  # local, unicast


def test_sort_key_orders_numbers_naturally() -> None:
    machines = [Machine("l-w2", "worker", ""), Machine("l-cp10", "control-plane", ""),
                Machine("l-cp2", "control-plane", ""), Machine("l-w1", "worker", "")]
    assert [m.name for m in sorted(machines, key=sort_key)] == ["l-cp2", "l-cp10", "l-w1", "l-w2"]
