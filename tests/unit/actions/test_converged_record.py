"""The record of the last converged run in the state dir: written atomically, read back, and a
missing or damaged one is no record (the next `up` then checks everything)."""

from __future__ import annotations

import shutil
from pathlib import Path

from homelab_ctl.plan.drift import Converged
from homelab_ctl.spec import Loaded, load
from homelab_ctl.state import CONVERGED, forget_converged, read_converged, state_dir, write_converged

SPEC = Path(__file__).resolve().parents[2] / "fixtures" / "specs" / "valid" / "3cp-2w-vip.yaml"


def _loaded(tmp_path: Path) -> Loaded:
    shutil.copy(SPEC, tmp_path / "cluster.yaml")
    return load(tmp_path / "cluster.yaml")


def test_round_trip_then_forget(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path)
    assert read_converged(loaded) is None
    record = Converged("abc", {"cp1": {"file:/etc/hosts": "0f", "service:containerd": "active enabled"}})
    write_converged(loaded, record)
    assert read_converged(loaded) == record
    assert not list(state_dir(loaded).glob("*.tmp"))
    forget_converged(loaded)
    assert read_converged(loaded) is None
    forget_converged(loaded)  # nothing to forget: fine


def test_a_damaged_record_is_no_record(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path)
    path = state_dir(loaded) / CONVERGED
    for text in ("{", "[]", '{"inputs": "x"}', '{"inputs": "x", "hosts": {"cp1": 3}}', "\x00\xff"):
        path.write_text(text, errors="surrogateescape")
        assert read_converged(loaded) is None, text
