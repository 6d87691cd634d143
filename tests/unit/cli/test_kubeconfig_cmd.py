"""homelab-ctl kubeconfig, run as a user runs it (the console script in a subprocess)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import yaml

from homelab_ctl.errors import ExitCode
from tests.unit.kube.kubeconfigs import admin_conf, key_material, other_kubeconfig, write

SPECS = Path(__file__).resolve().parents[2] / "fixtures" / "specs" / "valid"
EXE = shutil.which("homelab-ctl", path=str(Path(sys.executable).parent)) or "homelab-ctl"


def run(*args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "COLUMNS": "200", "XDG_STATE_HOME": str(home / ".state")}
    env.pop("KUBECONFIG", None)
    return subprocess.run([EXE, *args], capture_output=True, text=True, cwd=cwd, env=env, check=False)


def test_merges_into_the_default_kubeconfig_and_prints_no_key_material(tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    project.mkdir()
    shutil.copy(SPECS / "3cp-2w-vip.yaml", project / "cluster.yaml")
    admin = admin_conf()
    write(project / ".homelab-ctl" / "home" / "admin.conf", admin)
    write(home / ".kube" / "config", other_kubeconfig())

    result = run("kubeconfig", home=home, cwd=project)
    assert result.returncode == 0, result.stderr
    config = home / ".kube" / "config"
    assert result.stdout.strip() == (f"added context home (server https://192.168.10.50:6443) in {config}; "
                                     "it is the current context")
    for secret in key_material(admin):
        assert secret not in result.stdout + result.stderr
    doc = yaml.safe_load(config.read_text())
    assert [c["name"] for c in doc["contexts"]] == ["work", "home"] and doc["current-context"] == "home"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600

    doc["current-context"] = "work"  # the user switched back
    write(config, doc)
    again = run("kubeconfig", "-f", "cluster.yaml", "--kubeconfig", str(config), "--no-switch", home=home,
                cwd=project)
    assert again.returncode == 0 and again.stdout.startswith("updated context home ")
    assert "current context" not in again.stdout
    assert yaml.safe_load(config.read_text())["current-context"] == "work"


def test_without_admin_conf_it_says_run_up_first(tmp_path: Path) -> None:
    shutil.copy(SPECS / "3cp-2w-vip.yaml", tmp_path / "cluster.yaml")
    result = run("kubeconfig", "-f", str(tmp_path / "cluster.yaml"), home=tmp_path / "home", cwd=tmp_path)
    assert result.returncode == ExitCode.SPEC
    assert "no admin kubeconfig for cluster home" in result.stderr
    assert "hint: run homelab-ctl up -f cluster.yaml first" in result.stderr
    assert not (tmp_path / "home" / ".kube").exists()


def test_help(tmp_path: Path) -> None:
    result = run("kubeconfig", "--help", home=tmp_path, cwd=tmp_path)
    assert result.returncode == 0 and "Usage: homelab-ctl kubeconfig" in result.stdout
