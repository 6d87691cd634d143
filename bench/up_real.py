#!/usr/bin/env python3
"""Wall time of a first `homelab-ctl up`, of a no-op second one and of a `--full` one (every playbook
re-checks every host) on a 3 control plane + 1 worker lab, with REAL Kubernetes (built from its Go
modules into the offline mirror); after each, where the time went (stages, slowest tasks).

Usage: HOMELAB_MIRROR=DIR .venv/bin/python bench/up_real.py   (root; builds or reuses the mirror at
DIR, default ~/.local/share/homelab-ctl/mirror; removes its lab)
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.timings import breakdown, timings_file  # noqa: E402
from homelab_ctl.cli.mirror import default_dir  # noqa: E402
from homelab_ctl.lab import machines  # noqa: E402
from homelab_ctl.mirror import build  # noqa: E402


def up(spec: Path, *extra: str) -> float:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "homelab_ctl", "up", "-f", str(spec), "--yes", *extra],
                          capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"up failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return seconds


def main() -> None:
    mirror = Path(os.environ.get("HOMELAB_MIRROR") or default_dir())
    build.build(mirror, echo=lambda line: None)
    name = f"bench-{secrets.token_hex(2)}"
    print("real tier, 3 control planes + 1 worker (lab machines, 2 cores)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        lab = machines.up(name, 3, 1, Path(tmp) / "lab", mirror=mirror)
        try:
            for label, extra in (("up, first run", []), ("up, no-op second run", []), ("up --full", ["--full"])):
                print(f"{label:<22} {up(lab.spec_path, *extra):6.1f} s", flush=True)
                breakdown(timings_file(lab.spec_path, lab.name))
        finally:
            machines.down(name)


if __name__ == "__main__":
    main()
