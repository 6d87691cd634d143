"""The command line as a user runs it: the installed console script in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from homelab_ctl.errors import ExitCode

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "specs"
REPO = Path(__file__).resolve().parents[3]
EXE = shutil.which("homelab-ctl", path=str(Path(sys.executable).parent)) or "homelab-ctl"
COMMANDS = ["init", "validate", "render", "preflight", "up", "kubeconfig", "lab"]


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])  # this checkout's code
    env = {**os.environ, **(env or {}), "COLUMNS": "200", "PYTHONPATH": path,
           "XDG_STATE_HOME": tempfile.gettempdir()}  # log file out of the repo
    return subprocess.run([EXE, *args], capture_output=True, text=True, cwd=cwd, env=env, check=False)


def home_with(tmp_path: Path, *files: str) -> dict[str, str]:
    """A HOME holding the files a spec points at with '~' (validate checks that they exist)."""
    home = tmp_path / "home"
    for rel in files:
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text("placeholder\n")
    return {"HOME": str(home)}


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)], ids=lambda c: " ".join(c) or "top")
def test_help(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0
    assert "Usage: homelab-ctl" in result.stdout


def test_version() -> None:
    from homelab_ctl import __version__

    assert run("--version").stdout.strip() == f"homelab-ctl, version {__version__}"


def test_help_does_not_import_heavy_modules() -> None:
    """--help must stay fast: the CLI module tree imports no heavy library at start-up."""
    code = ("import sys, homelab_ctl.cli; heavy = {'pydantic', 'yaml', 'paramiko', 'kubernetes', "
            "'ansible_runner', 'jinja2', 'rich'}; print(sorted(heavy & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_validate_lists_every_problem_and_exits_2() -> None:
    result = run("validate", "-f", str(FIXTURES / "five-mistakes.yaml"))
    assert result.returncode == ExitCode.SPEC == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 5, result.stderr
    for line, path in zip(lines, ["spec.kubernetes.version", "spec.ssh.privatKeyFile", "spec.nodes[1].address",
                                  "spec.nodes[2].name", "spec.network.flannel.backend"], strict=True):
        assert line.startswith(f"error {path}: ")
    assert result.stdout == ""


def test_validate_summary(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"  # the fixture's offline mirror is /srv/homelab-mirror: use one here
    text = (FIXTURES / "valid" / "3cp-3w-nas-addons.yaml").read_text()
    spec.write_text(text.replace("/srv/homelab-mirror", "mirror"))
    (tmp_path / "mirror").mkdir()
    env = {**home_with(tmp_path, ".ssh/homelab", ".config/homelab/s3-secret"), "PG_S3_ACCESS_KEY": "key-id"}
    result = run("validate", "-f", str(spec), env=env)
    assert result.returncode == 0, result.stderr
    assert "nodes      6: 3 control-plane (cp1, cp2, cp3), 3 worker (nas-vm1, nas-vm2, w3)" in result.stdout
    assert "endpoint   192.168.20.10:8443 (VIP by kube-vip)" in result.stdout
    assert "kubevirt v1.9.0" in result.stdout and "postgres-operator v2.0.1" in result.stdout


def test_validate_show_defaults() -> None:
    result = run("validate", "-f", str(FIXTURES / "valid" / "one-node.yaml"), "--show-defaults")
    assert result.returncode == 0
    assert "podSubnet: 10.244.0.0/16" in result.stdout
    assert "dnsDomain: cluster.local" in result.stdout


def test_init_writes_a_valid_spec_and_refuses_to_overwrite(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    missing_key = run("validate", cwd=tmp_path, env=home_with(tmp_path))
    assert missing_key.returncode == ExitCode.SPEC
    assert missing_key.stderr.startswith("error spec.ssh.privateKeyFile: SSH key '~/.ssh/id_ed25519' ")
    assert run("validate", cwd=tmp_path, env=home_with(tmp_path, ".ssh/id_ed25519")).returncode == 0
    again = run("init", cwd=tmp_path)
    assert again.returncode == ExitCode.SPEC
    assert again.stderr.strip() == "error cluster.yaml already exists: not overwriting it (choose another path with -o)"


def test_render_writes_inventory(tmp_path: Path) -> None:
    result = run("render", "-f", str(FIXTURES / "valid" / "3cp-2w-vip.yaml"), "-o", str(tmp_path / "inv"),
                 env=home_with(tmp_path, ".ssh/id_ed25519"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "inv" / "hosts.yml").is_file()
    assert sorted(p.name for p in (tmp_path / "inv" / "group_vars" / "all").iterdir()) == [
        "cluster.yml", "connection.yml", "network.yml", "runtime.yml", "storage.yml"]
    review = tmp_path / "inv" / ".kubeadm" / "kubeadm"
    assert sorted(p.name for p in review.iterdir()) == [
        "cp1.yaml", "cp2.yaml", "cp3.yaml", "encryption-config.yaml", "w1.yaml", "w2.yaml"]
    assert "kind: InitConfiguration" in (review / "cp1.yaml").read_text()
    assert "kind: JoinConfiguration" in (review / "w1.yaml").read_text()
    listed = subprocess.run([str(Path(sys.executable).with_name("ansible-inventory")), "-i", str(tmp_path / "inv"),
                             "--list"], capture_output=True, text=True, check=False)
    assert listed.returncode == 0 and "WARNING" not in listed.stderr, listed.stderr


def test_render_of_a_bad_spec_writes_nothing(tmp_path: Path) -> None:
    result = run("render", "-f", str(FIXTURES / "invalid" / "address-invalid.yaml"), "-o", str(tmp_path / "inv"))
    assert result.returncode == ExitCode.SPEC
    assert not (tmp_path / "inv").exists()


def test_missing_spec_is_one_line() -> None:
    result = run("validate", "-f", "/nonexistent/cluster.yaml")
    assert result.returncode == ExitCode.SPEC
    assert result.stderr.strip() == "error /nonexistent/cluster.yaml: cannot read: No such file or directory"


def test_unknown_option_is_a_usage_error() -> None:
    result = run("validate", "--nope")
    assert result.returncode == ExitCode.SPEC
    assert "No such option" in result.stderr


def test_up_extra_vars_parsing(tmp_path: Path) -> None:
    from homelab_ctl.cli.up import _extra_vars
    from homelab_ctl.errors import UsageError

    varfile = tmp_path / "vars.yml"
    varfile.write_text("a: 1\nb: [x]\n")
    assert _extra_vars(("kube_packages_install=false", "n=3", "s=text", f"@{varfile}")) == {
        "kube_packages_install": False, "n": 3, "s": "text", "a": 1, "b": ["x"]}
    with pytest.raises(UsageError):
        _extra_vars(("novalue",))


def test_up_refuses_a_bad_spec_before_any_connection() -> None:
    result = run("up", "-f", str(FIXTURES / "five-mistakes.yaml"), "--yes")
    assert result.returncode == ExitCode.SPEC
    assert len(result.stderr.splitlines()) == 5
