"""Choice of the lab subnet (pure)."""

from __future__ import annotations

import ipaddress

import pytest

from homelab_ctl.errors import LabError
from homelab_ctl.lab.network import parse_routes, pick_subnet, podman_subnets

N = ipaddress.IPv4Network

ROUTES = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
podman1\t00005A0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""


def test_first_free_24_of_the_pool() -> None:
    assert pick_subnet([]) == N("10.90.0.0/24")
    assert pick_subnet([N("10.90.0.0/24"), N("10.90.1.0/24")]) == N("10.90.2.0/24")


def test_wider_networks_block_every_24_they_cover() -> None:
    assert pick_subnet([N("10.90.0.0/22")]) == N("10.90.4.0/24")
    with pytest.raises(LabError, match=r"no free /24 left in 10\.90\.0\.0/16"):
        pick_subnet([N("10.0.0.0/8")])


def test_unrelated_networks_do_not_matter() -> None:
    assert pick_subnet([N("10.88.0.0/16"), N("192.168.2.0/24")]) == N("10.90.0.0/24")


def test_routes_without_default() -> None:
    assert parse_routes(ROUTES) == [N("192.168.2.0/24"), N("10.90.0.0/24")]
    assert pick_subnet(parse_routes(ROUTES)) == N("10.90.1.0/24")


def test_podman_network_subnets() -> None:
    networks: list[dict[str, object]] = [
        {"name": "podman", "subnets": [{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}]},
        {"name": "lab-net", "subnets": [{"subnet": "10.90.0.0/24"}, {"subnet": "fd00::/64"}]},
        {"name": "nosubnet"},
    ]
    assert podman_subnets(networks) == [N("10.88.0.0/16"), N("10.90.0.0/24")]
