#!/usr/bin/env python3
"""Wall time of `lab up` (3 machines), the first prepare.yml run and the no-op second run.

Usage: .venv/bin/python bench/prepare_lab.py     (needs root, podman; removes its lab at the end)
"""

from __future__ import annotations

import secrets
import tempfile
import time
from pathlib import Path

from homelab_ctl.lab import image, machines
from homelab_ctl.render import inventory
from homelab_ctl.runner import run_playbook
from homelab_ctl.spec import load


def main() -> None:
    image.ensure_image()
    name = f"bench-{secrets.token_hex(2)}"
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        lab = machines.up(name, 3, 0, Path(tmp) / "lab")
        print(f"lab up (3 machines)      {time.monotonic() - started:6.1f} s", flush=True)
        try:
            inv = Path(tmp) / "inventory"
            inventory.write(inventory.files(load(lab.spec_path)), inv)
            for label in ("prepare, first run", "prepare, no-op run"):
                result = run_playbook("prepare.yml", inv, stage="prepare", state_dir=Path(tmp))
                print(f"{label:<24} {result.elapsed:6.1f} s  changed={result.changed}", flush=True)
        finally:
            machines.down(name)


if __name__ == "__main__":
    main()
