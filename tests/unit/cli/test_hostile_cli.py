"""Bad files, paths and options through the command line: exit 2 and one line per problem, never a
traceback and never exit 1; render -o write errors; up checks its options before contacting anything."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

from homelab_ctl.errors import ExitCode
from tests.unit.cli.inproc import Ran, invoke
from tests.unit.cli.test_cli import EXE, REPO
from tests.unit.spec.specs import text


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the log file


def spec_file(tmp_path: Path, data: bytes | None = None, name: str = "cluster.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text().encode() if data is None else data)
    return path


def one_error(ran: Ran, *words: str) -> str:
    assert ran.code == ExitCode.SPEC, ran
    assert "Traceback" not in ran.err and ran.out == ""
    (line,) = ran.err.splitlines()
    assert line.startswith("error ") and all(w in line for w in words), line
    return line


@pytest.mark.parametrize("data, words", [
    (b"\xff\xfe\x00\x00", ["UTF-32"]),
    (b"a: \xc3\x28\n", ["not UTF-8", "line 1, column 4"]),
    (b"a: b\x00\n", ["NUL byte"]),
    (b"? [a]\n: b\n", ["(document)", "plain value"]),
    (b"[" * 5000 + b"]" * 5000, ["(document)", "nest"]),
    (b"metadata: {name: \"[/]\"}\n", ["metadata.name", "'[/]'"]),  # rich markup in a value must not crash printing
])
def test_bad_files_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes,
                                words: list[str]) -> None:
    ran = invoke(capsys, "validate", "-f", str(spec_file(tmp_path, data)))
    if words[0] == "metadata.name":
        assert ran.code == ExitCode.SPEC and "Traceback" not in ran.err and "'[/]'" in ran.err
        return
    one_error(ran, *words)


@pytest.mark.parametrize("where", ["dir", "missing", "devzero", "long"])
def test_bad_spec_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    path = {"dir": str(tmp_path), "missing": str(tmp_path / "nope.yaml"), "devzero": "/dev/zero",
            "long": str(tmp_path / ("x" * 300))}[where]
    words = {"dir": "Is a directory", "missing": "No such file", "devzero": "larger than",
             "long": "File name too long"}[where]
    for command in ("validate", "render"):
        extra = ["-o", str(tmp_path / "out")] if command == "render" else []
        one_error(invoke(capsys, command, "-f", path, *extra), words)
    assert not (tmp_path / "out").exists()


def test_non_utf8_file_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = os.fsdecode(b"clu\xffster.yaml")
    good = spec_file(tmp_path, name=name)
    ran = invoke(capsys, "validate", "-f", str(good))
    assert ran.code == 0 and "clu\\xffster.yaml" in ran.out and "Traceback" not in ran.err
    bad = spec_file(tmp_path, b"kind: 1\n", name=name)
    ran = invoke(capsys, "validate", "-f", str(bad))
    assert ran.code == ExitCode.SPEC and "Logging error" not in ran.err and "Traceback" not in ran.err
    log = (tmp_path / "state" / "homelab-ctl" / "homelab-ctl.log").read_text()
    assert "clu\\xffster.yaml" in log


def test_render_write_errors_are_one_line_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    spec = spec_file(tmp_path)
    (tmp_path / "a-file").write_text("x")
    one_error(invoke(capsys, "render", "-f", str(spec), "-o", str(tmp_path / "a-file")), "-o", "is a file")
    one_error(invoke(capsys, "render", "-f", str(spec), "-o", str(tmp_path / "a-file" / "inv")), "a part of the path")
    one_error(invoke(capsys, "render", "-f", str(spec), "-o", str(tmp_path / ("x" * 300))), "File name too long")

    def read_only(*_: object, **__: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr("tempfile.mkdtemp", read_only)
    one_error(invoke(capsys, "render", "-f", str(spec), "-o", str(tmp_path / "inv")), "Read-only file system")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "cluster.yaml", "state"]


def test_render_refuses_a_bad_spec_before_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = spec_file(tmp_path, text().replace("name: cp1", "name: |\n      cp1").encode())
    ran = invoke(capsys, "render", "-f", str(spec), "-o", str(tmp_path / "inv"))
    one_error(ran, "spec.nodes[0].name", "'cp1\\n'")
    assert not (tmp_path / "inv").exists()


def test_show_defaults_into_a_closed_pipe(tmp_path: Path) -> None:
    """As `validate --show-defaults | head -1` once head has exited: the reader is gone before we write."""
    spec = spec_file(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_STATE_HOME": str(tmp_path / "state")}
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        ran = subprocess.run([EXE, "validate", "-f", str(spec), "--show-defaults"], stdout=write_end,
                             stderr=subprocess.PIPE, text=True, env=env, check=False)
    finally:
        os.close(write_end)
    assert (ran.returncode, ran.stderr) == (0, "")


@pytest.mark.parametrize("option, value, words", [
    ("--artifacts", "/nonexistent/mirror", "--artifacts /nonexistent/mirror: does not exist"),
    ("--artifacts", "FILE", "is not a directory"),
    ("--api-server", "not a url", "--api-server 'not a url': not a URL"),
    ("--api-server", "ftp://host", "not a URL"),
    ("--api-server", "https://host:99999", "not a URL"),
    ("--api-server", "https://host\n", "not a URL"),
])
def test_up_checks_its_options_before_anything(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch, option: str, value: str,
                                               words: str) -> None:
    def contacted(*_: object, **__: object) -> None:
        raise AssertionError("a machine was contacted")

    monkeypatch.setattr("homelab_ctl.cli.preflight.run_with_progress", contacted)
    monkeypatch.setattr("homelab_ctl.spec.load", contacted)  # the options come first, before the spec
    value = str(spec_file(tmp_path)) if value == "FILE" else value
    one_error(invoke(capsys, "up", "-f", str(tmp_path / "cluster.yaml"), "--yes", option, value), words)


@pytest.mark.parametrize("data, words", [
    (b"\xff\xfe\x00\x00garbage", ["--extra-vars @", "not UTF-8"]),
    (b"a: " + b"x" * (600 * 1024), ["--extra-vars @", "larger than 512 KiB"]),
    (b"- a list\n", ["expected a mapping"]),
])
def test_up_extra_vars_file_is_checked_before_anything(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch, data: bytes,
                                                       words: list[str]) -> None:
    def contacted(*_: object, **__: object) -> None:
        raise AssertionError("a machine was contacted")

    monkeypatch.setattr("homelab_ctl.cli.preflight.run_with_progress", contacted)
    variables = tmp_path / "vars.yml"
    variables.write_bytes(data)
    spec = spec_file(tmp_path)
    one_error(invoke(capsys, "up", "-f", str(spec), "--yes", "-e", f"@{variables}"), *words)


@pytest.mark.parametrize("value, words", [
    ("[a, b]", ["homelab_kubeadm_patches", "expected a mapping"]),
    ("{kube-apiserver.txt: {}}", ["'kube-apiserver.txt' is not a kubeadm patch file name", "targets: etcd"]),
    ("{kubelet+merge.yaml: {}}", ["'kubelet+merge.yaml' is not a kubeadm patch file name"]),
    ("{etcd+yaml.json: {}}", ["'etcd+yaml.json' is not a kubeadm patch file name"]),
    ("{etcd+json.yaml: {op: add}}", ["etcd+json.yaml: expected a list of operations"]),
    ("{etcd0.yaml: [a]}", ["etcd0.yaml: expected a mapping"]),
])
def test_up_checks_kubeadm_patches_before_anything(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch, value: str,
                                                   words: list[str]) -> None:
    def contacted(*_: object, **__: object) -> None:
        raise AssertionError("a machine was contacted")

    monkeypatch.setattr("homelab_ctl.cli.preflight.run_with_progress", contacted)
    monkeypatch.setattr("homelab_ctl.spec.load", contacted)
    spec = spec_file(tmp_path)
    one_error(invoke(capsys, "up", "-f", str(spec), "--yes", "-e", f"homelab_kubeadm_patches={value}"), *words)


def test_the_slow_machines_vars_file_passes_the_patch_check() -> None:
    import yaml

    from homelab_ctl.render.kubeadm import check_patches

    variables = yaml.safe_load((Path(__file__).resolve().parents[3] / "playbooks/vars/slow-machines.yml").read_text())
    check_patches(variables)
    assert len(variables["homelab_kubeadm_patches"]) == 8
