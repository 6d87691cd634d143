"""Real ansible-playbook runs through the runner against localhost (connection: local)."""

from __future__ import annotations

import io
import os
import signal
import stat
import tempfile
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from homelab_ctl.errors import ExitCode
from homelab_ctl.runner import MASK, AnsiblePaths, PlaybookStageFailed, run_playbook

SECRET = "abcdef.0123456789abcdef"  # shaped like a kubeadm join token


@pytest.fixture()
def ansible(tmp_path: Path) -> AnsiblePaths:
    """A tiny repository layout: playbooks/ and a role in roles/ (proves ANSIBLE_ROLES_PATH)."""
    root = tmp_path / "repo"
    (root / "playbooks").mkdir(parents=True)
    tasks = root / "roles" / "greet" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "main.yml").write_text(
        "- name: Greet | Say hello\n  ansible.builtin.debug:\n    msg: \"{{ homelab_greeting }}\"\n"
    )
    return AnsiblePaths(root, root / "playbooks", root / "roles")


@pytest.fixture()
def inventory(tmp_path: Path) -> Path:
    """A rendered-style inventory directory: hosts.yml plus group_vars/all/*.yml."""
    inv = tmp_path / "inventory"
    (inv / "group_vars" / "all").mkdir(parents=True)
    (inv / "hosts.yml").write_text(
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        "      ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n"
    )
    (inv / "group_vars" / "all" / "cluster.yml").write_text("homelab_greeting: hello from group_vars\n")
    return inv


def playbook(paths: AnsiblePaths, name: str, tasks: str, roles: str = "[]") -> str:
    (paths.playbooks / name).write_text(
        f"- name: Test play\n  hosts: all\n  gather_facts: false\n  roles: {roles}\n  tasks:\n{tasks}"
    )
    return name


def console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    # force_terminal: the live display really redraws into the buffer (as on a terminal)
    return Console(file=buffer, force_terminal=True, color_system=None, width=200), buffer


def test_passing_playbook_counts_and_second_run_changes_nothing(
    tmp_path: Path, ansible: AnsiblePaths, inventory: Path
) -> None:
    target = tmp_path / "out" / "file.txt"
    name = playbook(ansible, "site.yml", roles="[greet]", tasks=(
        f"    - name: Test | Write a file\n      ansible.builtin.copy:\n        dest: {target}\n"
        "        content: converged\n        mode: \"0644\"\n"
        "    - name: Test | Skipped\n      ansible.builtin.debug: {msg: never}\n      when: false\n"
    ))
    target.parent.mkdir()
    out, buffer = console()

    first = run_playbook(name, inventory, stage="prepare", state_dir=tmp_path / "state", console=out,
                         ansible=ansible)
    assert first.ok and first.status == "successful" and first.rc == 0
    stats = first.hosts["localhost"]
    assert (stats.ok, stats.changed, stats.failed, stats.unreachable, stats.skipped) == (2, 1, 0, 0, 1)
    assert first.changed == 1 and first.changed_hosts == ["localhost"]
    assert target.read_text() == "converged"

    log = first.log_path.read_text()
    assert first.log_path.parent == tmp_path / "state" / "logs"
    assert first.log_path.name.endswith("-prepare.log")
    assert stat.S_IMODE(first.log_path.stat().st_mode) == 0o600
    assert "hello from group_vars" in log  # the role ran and read group_vars of the inventory directory
    assert "TASK [Test | Write a file]" in log and "PLAY RECAP" in log and "\r" not in log
    assert "status=successful rc=0" in log
    assert {task for task, _ in first.slowest_tasks} == {"Greet | Say hello", "Test | Write a file", "Test | Skipped"}
    assert all(seconds >= 0 for _, seconds in first.slowest_tasks)
    assert "# slowest tasks" in log and "Test | Write a file" in log.split("# slowest tasks")[1]
    assert "prepare: ok in" in buffer.getvalue() and "1 changed" in buffer.getvalue()

    second = run_playbook(name, inventory, stage="prepare", state_dir=tmp_path / "state", console=out,
                          ansible=ansible)
    assert second.ok and second.changed == 0 and second.changed_hosts == []
    assert second.hosts["localhost"].ok == 2
    assert second.log_path != first.log_path  # one log per run
    assert "no changes" in buffer.getvalue()


def test_failing_task_names_host_task_and_log(tmp_path: Path, ansible: AnsiblePaths, inventory: Path) -> None:
    name = playbook(ansible, "fail.yml", tasks=(
        "    - name: Test | Fine\n      ansible.builtin.debug: {msg: ok}\n"
        "    - name: Test | Break on purpose\n"
        "      ansible.builtin.command: /bin/sh -c 'echo disk is full >&2; exit 3'\n      changed_when: false\n"
        "    - name: Test | Never reached\n      ansible.builtin.debug: {msg: unreachable}\n"
    ))
    out, buffer = console()
    with pytest.raises(PlaybookStageFailed) as caught:
        run_playbook(name, inventory, stage="control-plane", state_dir=tmp_path / "state", console=out,
                     ansible=ansible)
    exc = caught.value
    assert exc.exit_code == ExitCode.PLAYBOOK == 5
    assert exc.host == "localhost" and exc.task == "Test | Break on purpose"
    assert exc.log_path.is_file() and str(exc.log_path) in exc.message
    assert exc.message.startswith("control-plane: localhost failed at task 'Test | Break on purpose': ")
    assert "non-zero return code: disk is full" in exc.message
    result = exc.result
    assert result.status == "failed" and result.rc == 2
    assert result.hosts["localhost"].failed == 1 and result.hosts["localhost"].ok == 1
    assert "Never reached" not in exc.log_path.read_text()
    assert "failed localhost: Test | Break on purpose" in buffer.getvalue()


def test_rescued_failure_is_not_a_failure(tmp_path: Path, ansible: AnsiblePaths, inventory: Path) -> None:
    name = playbook(ansible, "rescue.yml", tasks=(
        "    - name: Test | Block\n      block:\n"
        "        - name: Test | Fails\n          ansible.builtin.fail: {msg: expected}\n"
        "      rescue:\n        - name: Test | Recovers\n          ansible.builtin.debug: {msg: recovered}\n"
    ))
    result = run_playbook(name, inventory, stage="rescue", state_dir=tmp_path / "state", console=console()[0],
                          ansible=ansible)
    assert result.ok and result.failure is None and result.hosts["localhost"].rescued == 1


def test_secrets_never_reach_log_console_or_error(
    tmp_path: Path, ansible: AnsiblePaths, inventory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task that echoes a registered secret (no no_log), a no_log task, and a failure quoting it."""
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))  # where ansible-runner's private dir goes
    name = playbook(ansible, "secret.yml", tasks=(
        "    - name: Test | Echo the token (forgot no_log)\n"
        "      ansible.builtin.command: echo kubeadm join --token {{ join_token }}\n      changed_when: false\n"
        "      register: joined\n"
        "    - name: Test | Show it\n      ansible.builtin.debug: {var: joined.stdout}\n"
        "    - name: Test | Hidden\n      ansible.builtin.debug: {msg: \"{{ join_token }}\"}\n      no_log: true\n"
        "    - name: \"Test | Join with {{ join_token }}\"\n"
        "      ansible.builtin.fail: {msg: \"token {{ join_token }} was rejected\"}\n"
    ))
    out, buffer = console()
    with pytest.raises(PlaybookStageFailed) as caught:
        run_playbook(name, inventory, stage="workers", state_dir=tmp_path / "state", console=out,
                     secrets=[SECRET], extravars={"join_token": SECRET}, ansible=ansible)
    exc = caught.value
    log = exc.log_path.read_text()
    assert SECRET not in log and SECRET not in buffer.getvalue() and SECRET not in exc.message
    assert f"kubeadm join --token {MASK}" in log  # the output is there, only the secret is masked
    assert f"token {MASK} was rejected" in exc.message
    assert "no_log" in log  # Ansible's own censoring of the hidden task
    assert f"failed localhost: Test | Join with {MASK}" in buffer.getvalue()
    assert list(private.iterdir()) == []  # ansible-runner's private dir (extravars, raw events) is gone


def test_unreachable_host(tmp_path: Path, ansible: AnsiblePaths) -> None:
    """SSH to a closed port on 127.0.0.1: the host is reported unreachable, not failed."""
    inv = tmp_path / "inventory.yml"
    inv.write_text("all:\n  hosts:\n    cp1:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n"
                   "      ansible_ssh_common_args: -o ConnectTimeout=5 -o BatchMode=yes\n")
    name = playbook(ansible, "ping.yml", tasks="    - name: Test | Ping\n      ansible.builtin.ping:\n")
    with pytest.raises(PlaybookStageFailed) as caught:
        run_playbook(name, inv, stage="prepare", state_dir=tmp_path / "state", console=console()[0],
                     ansible=ansible)
    exc = caught.value
    assert exc.result.failure is not None and exc.result.failure.unreachable
    assert exc.result.hosts["cp1"].unreachable == 1
    assert exc.message.startswith("prepare: cp1 unreachable at task 'Test | Ping': ")
    assert "Connection refused" in exc.message


def test_syntax_error_is_reported_with_ansibles_words(tmp_path: Path, ansible: AnsiblePaths, inventory: Path) -> None:
    (ansible.playbooks / "broken.yml").write_text("- hosts: all\n  tasks:\n    - name: X\n      no_such_module: {}\n")
    with pytest.raises(PlaybookStageFailed) as caught:
        run_playbook("broken.yml", inventory, stage="prepare", state_dir=tmp_path / "state",
                     console=console()[0], ansible=ansible)
    assert caught.value.host is None
    assert "no_such_module" in caught.value.message and str(caught.value.log_path) in caught.value.message


def _processes_with(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline and "pytest" not in cmdline:
            found.append(int(pid))
    return found


def test_ctrl_c_cancels_the_playbook_and_raises_keyboard_interrupt(
    tmp_path: Path, ansible: AnsiblePaths, inventory: Path
) -> None:
    marker = "31.4159"  # a sleep nobody else runs
    name = playbook(ansible, "slow.yml", tasks=(
        f"    - name: Test | Sleep\n      ansible.builtin.command: sleep {marker}\n      changed_when: false\n"
    ))
    state = tmp_path / "state"

    def press_ctrl_c() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _processes_with(f"sleep {marker}"):
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)

    # what SIGINT did before (a run started in the background by a shell inherits SIG_IGN)
    before = signal.getsignal(signal.SIGINT)
    threading.Thread(target=press_ctrl_c, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_playbook(name, inventory, stage="slow", state_dir=state, console=console()[0], ansible=ansible)
    assert time.monotonic() - started < 25
    assert signal.getsignal(signal.SIGINT) is before  # our handler is gone again
    deadline = time.monotonic() + 5
    while _processes_with(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with(f"sleep {marker}") == []  # the whole playbook process group was killed
    (log,) = (state / "logs").glob("*-slow.log")
    assert "status=canceled" in log.read_text()


def test_facts_are_gathered_once_per_cache_directory(tmp_path: Path, ansible: AnsiblePaths, inventory: Path) -> None:
    (ansible.playbooks / "facts.yml").write_text(
        "- name: Test play\n  hosts: all\n  gather_facts: true\n  tasks:\n"
        "    - name: Test | Use a fact\n      ansible.builtin.debug:\n        msg: \"{{ ansible_facts.hostname }}\"\n")
    out, _ = console()
    runs = [run_playbook("facts.yml", inventory, stage=f"s{i}", state_dir=tmp_path / "state", console=out,
                         ansible=ansible, facts_cache=tmp_path / "facts") for i in (1, 2)]
    tasks = [{task for task, _ in run.slowest_tasks} for run in runs]
    assert tasks == [{"Gathering Facts", "Test | Use a fact"}, {"Test | Use a fact"}]
    assert [p.name for p in (tmp_path / "facts").iterdir()]  # kept where it was asked to be
