#!/usr/bin/env python3
"""Wall time of a first `homelab-ctl up` and of a no-op second one on a 3 control plane + 1 worker
lab, with REAL Kubernetes (built from its Go modules into the offline mirror) and the per-stage
breakdown `up` prints.

Usage: HOMELAB_MIRROR=DIR .venv/bin/python bench/up_real.py   (root; builds or reuses the mirror at
DIR, default ~/.local/share/homelab-ctl/mirror; removes its lab)
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from homelab_ctl.cli.mirror import default_dir  # noqa: E402
from homelab_ctl.lab import machines  # noqa: E402
from homelab_ctl.mirror import build  # noqa: E402

STAGE = re.compile(r"^\s+(prepare|control-plane|workers|cni|ready)\s+([\d.]+) s", re.M)


def up(spec: Path) -> tuple[float, dict[str, str]]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "homelab_ctl", "up", "-f", str(spec), "--yes"],
                          capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"up failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return seconds, dict(STAGE.findall(proc.stdout))


def main() -> None:
    mirror = Path(os.environ.get("HOMELAB_MIRROR") or default_dir())
    build.build(mirror, echo=lambda line: None)
    name = f"bench-{secrets.token_hex(2)}"
    with tempfile.TemporaryDirectory() as tmp:
        lab = machines.up(name, 3, 1, Path(tmp) / "lab", mirror=mirror)
        try:
            first, first_stages = up(lab.spec_path)
            noop, noop_stages = up(lab.spec_path)
        finally:
            machines.down(name)
    print("real tier, 3 control planes + 1 worker (lab machines, 2 cores)")
    print(f"first up:  {first:6.1f} s   " + "  ".join(f"{k} {v} s" for k, v in first_stages.items()))
    print(f"no-op up:  {noop:6.1f} s   " + "  ".join(f"{k} {v} s" for k, v in noop_stages.items()))


if __name__ == "__main__":
    main()
