"""Ports a lab publishes: below the kernel's ephemeral range, free, never one already taken."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest

from homelab_ctl.errors import LabError
from homelab_ctl.lab import ports


def test_ephemeral_range_read_from_the_kernel_file(tmp_path: Path) -> None:
    (tmp_path / "range").write_text("40000\t50000\n")
    assert ports.ephemeral_range(tmp_path / "range") == (40000, 50000)
    (tmp_path / "bad").write_text("nonsense\n")
    assert ports.ephemeral_range(tmp_path / "bad") == ports.DEFAULT_EPHEMERAL
    assert ports.ephemeral_range(tmp_path / "missing") == ports.DEFAULT_EPHEMERAL


def test_this_hosts_range_is_what_the_kernel_hands_out() -> None:
    low, high = ports.ephemeral_range()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        assert low <= sock.getsockname()[1] <= high


@pytest.mark.parametrize("ephemeral, expected", [
    ((32768, 60999), range(20000, 32768)),
    ((10000, 60999), range(1024, 10000)),
    ((1024, 50000), range(50001, 65536)),
    ((1024, 65000), range(1024, 65536)),  # no room anywhere: any port (the kernel may collide)
])
def test_candidates_stay_out_of_the_ephemeral_range(ephemeral: tuple[int, int], expected: range) -> None:
    assert ports.candidates(ephemeral) == expected


def test_pick_is_free_outside_the_ephemeral_range_and_not_taken() -> None:
    low, high = ports.ephemeral_range()
    pool = ports.candidates((low, high))
    rng = random.Random(7)
    first = ports.pick(rng=random.Random(7))
    assert first in pool and not low <= first <= high
    # The same random sequence with its first answer taken: the next one.
    again = ports.pick({first}, rng=rng)
    assert again != first and again in pool


def test_pick_skips_a_port_something_listens_on() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", ports.pick(rng=random.Random(1))))
        busy.listen()
        assert ports.pick(rng=random.Random(1)) != busy.getsockname()[1]


def test_pick_gives_up_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "bindable", lambda port: False)
    monkeypatch.setattr(ports, "ephemeral_range", lambda: ports.DEFAULT_EPHEMERAL)
    with pytest.raises(LabError, match=r"no free port on 127.0.0.1 in 20000-32767 .*200 tries"):
        ports.pick(rng=random.Random(0))
