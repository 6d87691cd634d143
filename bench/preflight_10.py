"""Wall time of preflight on 10 lab machines (target: under 5 s), through the Python API
(homelab_ctl.preflight.run) and the command line (`homelab-ctl preflight`, start-up included).

Brings up a lab of 3 control planes and 7 workers (unless --lab NAME names a running one) and
removes it afterwards.

Usage: .venv/bin/python bench/preflight_10.py [--runs 5] [--lab NAME] [--keep]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXE = shutil.which("homelab-ctl", path=str(Path(sys.executable).parent)) or "homelab-ctl"
TARGET_S = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="preflight runs to time (default 5)")
    parser.add_argument("--lab", help="use this running lab instead of bringing one up")
    parser.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    opts = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from homelab_ctl import preflight
    from homelab_ctl.lab import machines
    from homelab_ctl.spec import load

    name = opts.lab or f"bench-pf-{secrets.token_hex(2)}"
    owned = opts.lab is None
    try:
        if owned:
            started = time.monotonic()
            lab = machines.up(name, control_planes=3, workers=7,
                              directory=Path(tempfile.mkdtemp(prefix=f"homelab-ctl-{name}.")) / "lab")
            print(f"lab up (10 machines)        {time.monotonic() - started:6.1f} s", flush=True)
        else:
            lab = machines.get(name)
        loaded = load(lab.spec_path)
        nodes = len(loaded.cluster.spec.nodes)
        api = []
        for _ in range(opts.runs):
            report = preflight.run(loaded)
            if report.errors:
                sys.exit(f"preflight found errors: {[(f.host, f.check, f.detail) for f in report.errors]}")
            api.append(report.seconds)
        print(f"preflight API ({nodes} nodes)    median {statistics.median(api):5.2f} s, "
              f"max {max(api):5.2f} s over {len(api)} runs", flush=True)
        cli = []
        for _ in range(opts.runs):
            started = time.monotonic()
            result = subprocess.run([EXE, "preflight", "-f", str(lab.spec_path), "--json"], capture_output=True,
                                    text=True, check=False)
            cli.append(time.monotonic() - started)
            if result.returncode != 0:
                sys.exit(f"homelab-ctl preflight failed (exit {result.returncode}): {result.stderr.strip()}")
        print(f"homelab-ctl preflight ({nodes})  median {statistics.median(cli):5.2f} s, "
              f"max {max(cli):5.2f} s over {len(cli)} runs", flush=True)
        verdict = "ok" if max(cli) < TARGET_S else "SLOWER than"
        print(f"{verdict} the target of {TARGET_S:.0f} s")
    finally:
        if owned and not opts.keep:
            machines.down(name)


if __name__ == "__main__":
    main()
