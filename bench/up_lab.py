#!/usr/bin/env python3
"""Wall time of a first `homelab-ctl up`, of a no-op second one and of a `--full` one (every playbook
re-checks every host) on a 3+2 lab, with the kubeadm/kubelet TEST DOUBLES on the machines and the
Kubernetes API TEST DOUBLE (tests/doubles/). After each run: where the time went (per stage, from the
cluster's timings.json) and the slowest Ansible tasks.

Usage: .venv/bin/python bench/up_lab.py     (run from the repository root; removes its lab)
With Mitogen installed in the venv (pip install mitogen), one more `--full` run uses its strategy.
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
from homelab_ctl.lab import image, machines  # noqa: E402
from tests.doubles.apiserver import node, pod, serve  # noqa: E402

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def mitogen_env() -> dict[str, str]:
    """Ansible's strategy switched to Mitogen's, when it is installed (pip install mitogen): measured
    only, homelab-ctl does not use it."""
    try:
        import ansible_mitogen  # type: ignore[import-not-found]
    except ImportError:
        return {}
    plugins = Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"
    return {"ANSIBLE_STRATEGY_PLUGINS": str(plugins), "ANSIBLE_STRATEGY": "mitogen_linear"}


def main() -> None:
    image.ensure_image()
    name = f"bench-{secrets.token_hex(2)}"
    with tempfile.TemporaryDirectory() as tmp, serve() as api:
        lab = machines.up(name, 3, 2, Path(tmp) / "lab")
        try:
            api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})
            for machine in lab.machines:
                api.add(node(machine.name, ready=True))
            api.add(pod("kube-apiserver", "kube-system", "Running", ready=True))
            subprocess.run([str(BIN / "homelab-ctl"), "render", "-f", str(lab.spec_path), "-o", f"{tmp}/inv"],
                           check=True, capture_output=True, env=ENV)
            subprocess.run([str(BIN / "ansible-playbook"), "-i", f"{tmp}/inv", "tests/doubles/install.yml"],
                           check=True, capture_output=True, cwd=REPO, env=ENV)
            runs: list[tuple[str, list[str], dict[str, str]]] = [
                ("up, first run", [], ENV), ("up, no-op second run", [], ENV), ("up --full", ["--full"], ENV)]
            if mitogen_env():
                runs.append(("up --full, Mitogen", ["--full"], {**ENV, **mitogen_env()}))
            for label, extra, env in runs:
                started = time.monotonic()
                subprocess.run([str(BIN / "homelab-ctl"), "up", "-f", str(lab.spec_path), "--yes",
                                "-e", "kube_packages_install=false", "--artifacts", str(REPO / "tests/fixtures/mirror"),
                                "--api-server", api.url, *extra], check=True, capture_output=True, env=env)
                print(f"{label:<22} {time.monotonic() - started:6.1f} s", flush=True)
                breakdown(timings_file(lab.spec_path, lab.name))
        finally:
            machines.down(name)


if __name__ == "__main__":
    main()
