"""Wall time of the lab as a user sees it: `homelab-ctl lab image` (only when it builds),
`lab up` of 3 machines and `lab down`.

Usage: .venv/bin/python bench/lab_up.py [--rebuild] [--control-planes 3] [--workers 0]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXE = shutil.which("homelab-ctl", path=str(Path(sys.executable).parent)) or "homelab-ctl"


def timed(label: str, *args: str) -> float:
    started = time.monotonic()
    result = subprocess.run([EXE, *args], capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"{label} failed (exit {result.returncode}): {result.stderr.strip()}")
    print(f"{label:<28} {elapsed:6.1f} s", flush=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rebuild", action="store_true", help="time an image build even if it exists")
    parser.add_argument("--control-planes", type=int, default=3)
    parser.add_argument("--workers", type=int, default=0)
    opts = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from homelab_ctl.lab import image

    if opts.rebuild or not image.exists():
        timed("lab image (build)", "lab", "image", *(["--rebuild"] if opts.rebuild else []))
    else:
        print(f"{'lab image':<28}   (exists: not built; --rebuild to time a build)")
    name = f"bench-{secrets.token_hex(2)}"
    machines = opts.control_planes + opts.workers
    with tempfile.TemporaryDirectory(prefix="homelab-ctl-bench.") as tmp:
        try:
            timed(f"lab up ({machines} machines)", "lab", "up", "--name", name, "--dir", f"{tmp}/lab",
                  "--control-planes", str(opts.control_planes), "--workers", str(opts.workers))
        finally:
            timed("lab down", "lab", "down", "--name", name)


if __name__ == "__main__":
    main()
