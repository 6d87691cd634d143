"""Opt-in end to end: `homelab-ctl up` with the REAL Kubernetes packages (pkgs.k8s.io), images
(registry.k8s.io, ghcr.io) and Flannel manifest (GitHub). Needs internet; off by default.

    pytest -m e2e tests/integration/test_up_e2e.py                                 # on a 3+2 lab
    HOMELAB_E2E_SPEC=~/homelab/cluster.yaml pytest -m e2e tests/integration/test_up_e2e.py # on your own machines

Not run in CI (no internet there).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def spec(request: pytest.FixtureRequest) -> Path:
    given = os.environ.get("HOMELAB_E2E_SPEC")
    if given:
        return Path(given).expanduser()
    make_lab: Any = request.getfixturevalue("make_lab")
    return Path(make_lab(control_planes=3, workers=2).spec_path)


def test_up_with_real_packages_gives_ready_nodes(spec: Path) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    up = subprocess.run([str(BIN / "homelab-ctl"), "up", "-f", str(spec), "--yes", "--accept-new-host-keys"],
                        env=env, text=True, capture_output=True, check=False, timeout=3600)
    assert up.returncode == 0, up.stdout[-5000:] + up.stderr[-5000:]

    from homelab_ctl.kube import connect
    from homelab_ctl.kube.wait import nodes_ready
    from homelab_ctl.spec import load
    from homelab_ctl.state import state_dir

    loaded = load(spec)
    with connect(state_dir(loaded) / "admin.conf") as kube:
        assert nodes_ready(kube, [n.name for n in loaded.cluster.spec.nodes]).done

    again = subprocess.run([str(BIN / "homelab-ctl"), "up", "-f", str(spec), "--yes"],
                           env=env, text=True, capture_output=True, check=False, timeout=1800)
    assert again.returncode == 0 and "nothing to do" in again.stdout
