"""render -o owns its output directory: replaced whole (no stale file), foreign ones refused unless
--force, and a failed render leaves the previous output as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from homelab_ctl.errors import UsageError
from homelab_ctl.render import output
from tests.unit.cli.inproc import invoke
from tests.unit.spec.specs import text


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def put(target: Path, files: dict[str, str], force: bool = False) -> output.Result:
    return output.replace(output.check(target, "-o", force=force), files, f"-o {target}")


def test_replaces_its_own_output_completely(tmp_path: Path) -> None:
    target = tmp_path / "inv"
    put(target, {"hosts.yml": "a", "group_vars/all/old.yml": "x"})
    assert tree(target) == {"hosts.yml": "a", "group_vars/all/old.yml": "x", output.MARKER: output.MARKER_TEXT}
    (target / "group_vars" / "all" / "mine.yml").write_text("added by hand")
    result = put(target, {"hosts.yml": "b", "group_vars/all/cluster.yml": "c"})
    assert tree(target) == {"hosts.yml": "b", "group_vars/all/cluster.yml": "c", output.MARKER: output.MARKER_TEXT}
    assert (result.changed, result.removed) == (["group_vars/all/cluster.yml", "hosts.yml"],
                                                ["group_vars/all/mine.yml", "group_vars/all/old.yml"])
    assert put(target, {"hosts.yml": "b", "group_vars/all/cluster.yml": "c"}).changed == []
    assert [p.name for p in tmp_path.iterdir()] == ["inv"]  # no temporary directory left behind


def test_refuses_a_directory_it_did_not_write(tmp_path: Path) -> None:
    target = tmp_path / "inv"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=r"not written by homelab-ctl render.*--force"):
        output.check(target, "-o", force=False)
    assert tree(target) == {"notes.txt": "mine"}
    put(target, {"hosts.yml": "a"}, force=True)
    assert "notes.txt" not in tree(target)


def test_an_empty_directory_is_taken_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "inv"
    target.mkdir(mode=0o700)
    put(target, {"hosts.yml": "a"})
    assert tree(target)["hosts.yml"] == "a"
    put(target, {"hosts.yml": "b"})
    assert target.stat().st_mode & 0o777 == 0o700
    assert (target / "hosts.yml").stat().st_mode & 0o777 == 0o644


def test_a_failed_swap_leaves_the_old_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "inv"
    put(target, {"hosts.yml": "old"})
    real_rename = os.rename

    def rename(src: str | Path, dst: str | Path) -> None:
        if Path(dst) == target and Path(src).name.startswith(".homelab-ctl-tmp-"):  # the new output, not the old
            raise OSError(28, "No space left on device")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(UsageError, match="cannot write: No space left on device"):
        put(target, {"hosts.yml": "new"})
    monkeypatch.undo()
    assert tree(target) == {"hosts.yml": "old", output.MARKER: output.MARKER_TEXT}
    assert [p.name for p in tmp_path.iterdir()] == ["inv"]


def test_refuses_the_spec_directory_and_the_current_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "site" / "cluster.yaml"
    spec.parent.mkdir()
    spec.write_text("x")
    with pytest.raises(UsageError, match=r"holds .*cluster\.yaml"):
        output.check(spec.parent, "-o", force=True, keep=(spec,))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="current directory"):
        output.check(Path("."), "-o", force=True)


def test_render_removes_a_stale_group_vars_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: an old group_vars file survived a render and Ansible used its values over the new ones."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    spec = tmp_path / "cluster.yaml"
    spec.write_text(text())
    inv = tmp_path / "inv"
    assert invoke(capsys, "render", "-f", str(spec), "-o", str(inv)).code == 0
    stale = inv / "group_vars" / "all" / "pods.yml"
    stale.write_text("homelab_pod_subnet: 10.1.0.0/16\n")
    ran = invoke(capsys, "render", "-f", str(spec), "-o", str(inv))
    assert ran.code == 0 and "1 stale removed" in ran.out
    assert not stale.exists() and (inv / "hosts.yml").is_file()
    assert (inv / ".kubeadm" / "kubeadm" / "cp1.yaml").is_file()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    ran = invoke(capsys, "render", "-f", str(spec), "-o", str(foreign))
    assert ran.code == 2 and ran.err.startswith(f"error -o {foreign}: exists and was not written by homelab-ctl")
    assert (foreign / "keep.txt").exists()
    review = tmp_path / "review"
    ran = invoke(capsys, "render", "-f", str(spec), "-o", str(inv), "--kubeadm-dir", str(review))
    assert ran.code == 0 and not (inv / ".kubeadm").exists() and (review / "kubeadm" / "w1.yaml").is_file()
