"""`molecule test` of every Molecule scenario of every role (roles/<role>/molecule/<scenario>).

Real runs: each scenario boots a lab machine (privileged podman systemd container from the lab
image), converges the role, converges it again (idempotence: nothing may change), verifies the real
state of the machine and destroys it. Roles added later are picked up automatically.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from homelab_ctl.lab import podman

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"
# The default scenario of every role always runs; extra scenarios (e.g. containerd/upstream, ~2.5 min)
# only with HOMELAB_MOLECULE_ALL=1, to keep CI under its 30 minutes. `vm` scenarios boot qemu VMs
# (about 10 minutes each under software emulation): only with HOMELAB_MOLECULE_VM=1, even with ALL.
VM_ENV = "HOMELAB_MOLECULE_VM"


def selected(scenario: str, environ: Mapping[str, str]) -> bool:
    if scenario == "vm":
        return environ.get(VM_ENV) == "1"
    return scenario == "default" or environ.get("HOMELAB_MOLECULE_ALL") == "1"


SCENARIOS = sorted(p.parent for p in ROLES.glob("*/molecule/*/molecule.yml") if selected(p.parent.name, os.environ))
TIMEOUT = 1200  # seconds per scenario; one takes 1.5-4 minutes on 2 cores
VM_TIMEOUT = 3600  # a vm scenario boots twice under software emulation
FAILURE_MARKERS = ("fatal:", "failed:", "FAILED!", "CRITICAL", "ERROR")


def _env() -> dict[str, str]:
    env = podman.env()  # CONTAINERS_CONF: runc and both rlimits, required on this kind of host
    venv_bin = str(Path(sys.executable).parent)
    # molecule runs ansible-config / ansible-playbook from PATH
    env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "")])
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["PY_COLORS"] = "0"
    env["NO_COLOR"] = "1"
    return env


def _excerpt(output: str) -> str:
    """The lines around the first failure (the destroy step after it would bury it), then the tail."""
    lines = output.splitlines()
    first = next((i for i, line in enumerate(lines) if any(m in line for m in FAILURE_MARKERS)), None)
    head = lines[max(0, first - 15) : first + 45] if first is not None else []
    return "\n".join([*head, "...", *lines[-25:]])


def _params() -> list[object]:
    # vm scenarios need no podman image; they carry the vm marker
    return [pytest.param(p, id=f"{p.parents[1].name}/{p.name}", marks=[pytest.mark.vm] if p.name == "vm" else [])
            for p in SCENARIOS]


@pytest.mark.molecule
@pytest.mark.parametrize("scenario", _params())
def test_molecule_scenario(scenario: Path, request: pytest.FixtureRequest) -> None:
    if scenario.name != "vm":
        request.getfixturevalue("lab_image")
    role_dir = scenario.parents[1]
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "molecule"), "test", "--scenario-name", scenario.name],
        cwd=role_dir,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=VM_TIMEOUT if scenario.name == "vm" else TIMEOUT,
        check=False,
    )
    rc = proc.returncode
    assert rc == 0, f"molecule test of {role_dir.name}/{scenario.name} failed ({rc}):\n{_excerpt(proc.stdout)}"

