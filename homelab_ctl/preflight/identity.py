"""Recorded identity: what each node was the last time preflight passed (state dir, one file per node).

Lets a later run say what changed ("cp2's board changed") instead of only that something is off.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from homelab_ctl.facts.models import HostFacts, HostKey

log = logging.getLogger(__name__)


class Recorded(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    node: str
    product_uuid: str | None = None
    machine_id: str | None = None
    macs: list[str] = []
    host_key: HostKey | None = None
    recorded_at: str = ""


def from_facts(facts: HostFacts) -> Recorded:
    return Recorded(node=facts.node, product_uuid=facts.product_uuid, machine_id=facts.machine_id,
                    macs=facts.identity_macs, host_key=facts.host_key,
                    recorded_at=datetime.now(UTC).replace(microsecond=0).isoformat())


def directory(state: Path) -> Path:
    return state / "identity"


def load_all(state: Path) -> dict[str, Recorded]:
    out: dict[str, Recorded] = {}
    folder = directory(state)
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        try:
            rec = Recorded.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValidationError, ValueError) as exc:
            # A damaged record is not worth stopping for: it will be rewritten on the next pass.
            log.warning("ignoring unreadable identity record %s: %s", path, type(exc).__name__)
            continue
        out[rec.node] = rec
    return out


def same(a: Recorded, b: Recorded) -> bool:
    return a.model_dump(exclude={"recorded_at"}) == b.model_dump(exclude={"recorded_at"})


def save(state: Path, record: Recorded) -> Path:
    """Write <state>/identity/<node>.json atomically (dir 0700, file 0600)."""
    folder = directory(state)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{record.node}.json"
    tmp = path.with_suffix(".json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(record.model_dump(mode="json"), fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)
    return path
