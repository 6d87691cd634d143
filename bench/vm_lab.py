"""Times of VM labs (qemu; software emulation where KVM does not run guests): the VM image build
(first and cached), `lab up --driver vm` with the boot time and qemu memory (RSS) of each VM,
`lab down`, and `molecule test -s vm` of preinstall and containerd.

Usage (as root): .venv/bin/python bench/vm_lab.py [--rebuild] [--workers 1] [--no-molecule]
                 [--no-lab] [--roles preinstall,containerd]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
EXE = shutil.which("homelab-ctl", path=str(BIN)) or "homelab-ctl"
REPO = Path(__file__).resolve().parent.parent


def timed(label: str, cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
          log: Path | None = None) -> float:
    started = time.monotonic()
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, check=False)
    elapsed = time.monotonic() - started
    if log is not None:
        log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        sys.exit(f"{label} failed (exit {result.returncode}) after {elapsed:.0f} s:\n{tail}")
    print(f"{label:<40} {elapsed:7.1f} s", flush=True)
    return elapsed


def lab_steps(opts: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO))
    from homelab_ctl.lab import qemu, vm, vmimage

    if opts.rebuild or not vmimage.exists():
        timed("VM image build (first)", [EXE, "lab", "image", "--driver", "vm", "--rebuild"])
    else:
        print(f"{'VM image build (first)':<40}   (exists: not built; --rebuild to time a build)")
    timed("VM image (cached)", [EXE, "lab", "image", "--driver", "vm"])
    print(f"{'accelerator':<40} {qemu.accel(vmimage.current().kernel):>7}")

    name = f"vmbench-{secrets.token_hex(2)}"
    count = opts.control_planes + opts.workers
    with tempfile.TemporaryDirectory(prefix="homelab-ctl-bench.") as tmp:
        try:
            timed(f"lab up --driver vm ({count} VMs)", [EXE, "lab", "up", "--driver", "vm", "--name", name,
                  "--dir", f"{tmp}/lab", "--control-planes", str(opts.control_planes), "--workers", str(opts.workers)])
            for machine, boot, rss in vm.stats(name):
                print(f"  {machine:<38} boot {boot or 0:6.1f} s   qemu RSS {rss:5d} MiB", flush=True)
        finally:
            timed("lab down", [EXE, "lab", "down", "--name", name])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rebuild", action="store_true", help="time a first build even if the image exists")
    parser.add_argument("--control-planes", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-molecule", action="store_true", help="skip the molecule vm scenarios")
    parser.add_argument("--no-lab", action="store_true", help="skip the image and lab steps (molecule only)")
    parser.add_argument("--roles", default="preinstall,containerd", help="roles whose vm scenario is timed")
    opts = parser.parse_args()

    if not opts.no_lab:
        lab_steps(opts)
    if opts.no_molecule:
        return
    env = {**os.environ, "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),
           "ANSIBLE_FORCE_COLOR": "0", "PY_COLORS": "0", "NO_COLOR": "1"}
    for role in opts.roles.split(","):
        log = Path(tempfile.gettempdir()) / f"bench-molecule-{role}-vm.log"
        timed(f"molecule test -s vm ({role})", [str(BIN / "molecule"), "test", "-s", "vm"],
              cwd=REPO / "roles" / role, env=env, log=log)


if __name__ == "__main__":
    main()
