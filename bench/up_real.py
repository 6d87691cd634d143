#!/usr/bin/env python3
"""Wall time of a first `homelab-ctl up`, of a no-op second one and of a `--full` one (every playbook
re-checks every host) on a lab (3 control planes + 1 worker by default), with REAL Kubernetes (built
from its Go modules into the offline mirror); after each, where the time went (stages, slowest tasks).

Usage: HOMELAB_MIRROR=DIR .venv/bin/python bench/up_real.py [--driver vm] [--control-planes N]
       [--workers N] [--no-full]
(root; builds or reuses the mirror at DIR, default ~/.local/share/homelab-ctl/mirror; removes its lab).
With --driver vm the lab is qemu VMs; without KVM `vm.up_options` adds playbooks/vars/slow-machines.yml.
"""

from __future__ import annotations

import argparse
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
from homelab_ctl.lab import drivers  # noqa: E402
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", choices=["podman", "vm"], default="podman")
    parser.add_argument("--control-planes", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-full", action="store_true", help="skip the `up --full` run")
    opts = parser.parse_args()
    mirror = Path(os.environ.get("HOMELAB_MIRROR") or default_dir())
    build.build(mirror, echo=lambda line: None)
    backend = drivers.backend(opts.driver)
    name = f"bench-{secrets.token_hex(2)}"
    print(f"real tier, {opts.control_planes} control planes + {opts.workers} workers "
          f"({opts.driver} lab machines, {os.cpu_count()} cores)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        lab = backend.up(name, opts.control_planes, opts.workers, Path(tmp) / "lab", mirror=mirror)
        print(f"{'lab up':<22} {time.monotonic() - started:6.1f} s", flush=True)
        options = backend.up_options(lab) if opts.driver == "vm" else []
        runs: list[tuple[str, list[str]]] = [("up, first run", []), ("up, no-op second run", [])]
        runs += [] if opts.no_full else [("up --full", ["--full"])]
        try:
            for label, extra in runs:
                print(f"{label:<22} {up(lab.spec_path, *options, *extra):6.1f} s", flush=True)
                breakdown(timings_file(lab.spec_path, lab.name))
        finally:
            backend.down(name)


if __name__ == "__main__":
    main()
