"""Run one playbook through ansible-runner: live progress, a redacted log file, a result.

Ctrl-C: ansible-runner spawns ansible-playbook in its own session (a pty), and ansible-core puts
each worker in a session of its own too, so the terminal's SIGINT reaches only us, and
ansible-runner's cancel (SIGKILL to the playbook's process group) would orphan the workers and the
commands they run. So the first Ctrl-C forwards SIGINT to ansible-playbook, which stops its workers
and exits; only if it has not gone after a grace period does ansible-runner kill it. Then we raise
KeyboardInterrupt for the CLI to exit 130.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from homelab_ctl.errors import HomelabError
from homelab_ctl.runner.log import LogWriter, log_path
from homelab_ctl.runner.paths import AnsiblePaths, ansible_paths
from homelab_ctl.runner.redact import Redactor
from homelab_ctl.runner.result import PlaybookResult, PlaybookStageFailed

if TYPE_CHECKING:
    from rich.console import Console

log = logging.getLogger(__name__)

# How often ansible-runner looks at the cancel flag (its default of 5 s makes Ctrl-C feel stuck).
_POLL_SECONDS = 0.2
# How long ansible-playbook gets to stop its workers after our SIGINT before it is killed.
CANCEL_GRACE_SECONDS = 15.0


def ansible_env(paths: AnsiblePaths, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment of ansible-playbook: our roles, plain output, host keys checked."""
    env = {
        "ANSIBLE_ROLES_PATH": str(paths.roles),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        # ansible-runner turns host key checking off unless told otherwise; a homelab's keys are
        # pinned in known_hosts by the inventory, so keep it on.
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
    }
    if paths.config is not None:
        env["ANSIBLE_CONFIG"] = str(paths.config)
    # homelab-ctl may run from a venv that is not on PATH: use the ansible-playbook installed with it.
    venv_bin = Path(sys.executable).parent
    if (venv_bin / "ansible-playbook").exists():
        env["PATH"] = os.pathsep.join([str(venv_bin), os.environ.get("PATH", os.defpath)])
    env.update(extra or {})
    return env


def _facts_cache_env(directory: Path | None) -> dict[str, str]:
    # the directory itself goes to ansible-runner (fact_cache), which sets the cache plugin's
    # connection over any environment variable
    return {} if directory is None else {"ANSIBLE_GATHERING": "smart", "ANSIBLE_CACHE_PLUGIN_TIMEOUT": "0"}


@contextmanager
def _ctrl_c_requests_cancel() -> Iterator[threading.Event]:
    """While the playbook runs, the first Ctrl-C sets the returned flag; a second one interrupts."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: Any) -> None:
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


class _Cancel:
    """ansible-runner's cancel_callback: polled while the playbook runs."""

    def __init__(self, requested: threading.Event, grace: float = CANCEL_GRACE_SECONDS) -> None:
        self.requested = requested
        self.grace = grace
        self.playbook_pid: int | None = None  # from the events: they come from ansible-playbook itself
        self._sent: float | None = None

    def __call__(self) -> bool:
        if not self.requested.is_set():
            return False
        pid = self.playbook_pid
        if pid is None or pid <= 1 or pid == os.getpid():
            return True  # not started yet (no event): nothing to stop gracefully
        if self._sent is None:
            self._sent = time.monotonic()
            try:
                os.kill(pid, signal.SIGINT)
            except ProcessLookupError:
                return True
            return False
        return time.monotonic() - self._sent > self.grace


def run_playbook(
    playbook: str | Path,
    inventory: Path,
    *,
    stage: str,
    state_dir: Path,
    secrets: Redactor | Iterable[str] = (),
    extravars: Mapping[str, Any] | None = None,
    limit: str | None = None,
    tags: Sequence[str] = (),
    check: bool = False,
    verbosity: int = 0,
    forks: int | None = None,
    env: Mapping[str, str] | None = None,
    console: Console | None = None,
    ansible: AnsiblePaths | None = None,
    facts_cache: Path | None = None,
) -> PlaybookResult:
    """Run `playbook` (a name under playbooks/, or an absolute path) against the rendered inventory
    directory. Returns the result when the playbook succeeds; raises PlaybookStageFailed naming the
    host, task and log file when it fails, and KeyboardInterrupt after a clean cancel on Ctrl-C.

    facts_cache: a directory where the facts gathered by one playbook are kept for the next ones
    (gathering "smart": each host's facts are gathered once per directory)."""
    import ansible_runner
    from rich.live import Live

    from homelab_ctl.console import out
    from homelab_ctl.runner.events import Tracker
    from homelab_ctl.runner.progress import StageView, print_failure, print_summary

    redact = secrets if isinstance(secrets, Redactor) else Redactor(secrets)
    paths = ansible or ansible_paths()
    book = paths.playbook(playbook)
    if not book.is_file():
        raise HomelabError(f"playbook not found: {book}")
    if not inventory.exists():
        # ansible-runner would take a missing path for inline inventory text
        raise HomelabError(f"inventory not found: {inventory}", hint="render it first (homelab-ctl render)")
    console = console or out()
    tracker = Tracker(redact)
    view = StageView(stage, tracker)
    path = log_path(state_dir, stage)
    cmdline = []
    if check:
        cmdline += ["--check", "--diff"]
    if tags:
        cmdline += ["--tags", ",".join(tags)]

    with LogWriter(path, redact) as logfile:
        logfile.write(f"# homelab-ctl stage {stage}: {book} -i {inventory}"
                      f"{' --limit ' + limit if limit else ''} {shlex.join(cmdline)}".rstrip()
                      + f"\n# started {datetime.now().isoformat(timespec='seconds')}")

        def on_event(event: dict[str, Any]) -> bool:
            try:
                if cancel.playbook_pid is None and isinstance(event.get("pid"), int):
                    cancel.playbook_pid = event["pid"]
                logfile.write(str(event.get("stdout") or ""))
                failure = tracker.feed(event)
                if failure is not None:
                    print_failure(live.console, failure)
            except Exception:  # an exception here would abort ansible-runner's loop mid-run
                log.exception("runner event handler")
            return False  # never store events on disk: they hold unredacted output

        started = time.monotonic()
        # Its own private directory, removed afterwards: ansible-runner keeps extravars and raw
        # event data there.
        with tempfile.TemporaryDirectory(prefix="homelab-ctl-ansible-") as private, \
                _ctrl_c_requests_cancel() as ctrl_c, \
                Live(view, console=console, refresh_per_second=4, redirect_stdout=False,
                     redirect_stderr=False) as live:
            cancel = _Cancel(ctrl_c)
            runner = ansible_runner.run(
                private_data_dir=private,
                ident=path.stem,
                project_dir=str(book.parent),
                playbook=str(book),
                inventory=str(inventory.resolve()),
                envvars=ansible_env(paths, {**_facts_cache_env(facts_cache), **(env or {})}),
                extravars=dict(extravars or {}),
                limit=limit,
                forks=forks,
                # absolute: ansible-runner joins it to its artifact directory
                **({"fact_cache": str(facts_cache.absolute()), "fact_cache_type": "jsonfile"} if facts_cache else {}),
                verbosity=verbosity or None,
                cmdline=shlex.join(cmdline) if cmdline else None,
                settings={"pexpect_timeout": _POLL_SECONDS},
                suppress_output_file=True,
                quiet=True,
                event_handler=on_event,
                cancel_callback=cancel,
            )
        took = time.monotonic() - started
        rc = int(runner.rc if runner.rc is not None else -1)
        status = "canceled" if cancel.requested.is_set() else str(runner.status)
        logfile.write(f"# finished {datetime.now().isoformat(timespec='seconds')}: status={status} rc={rc} "
                      f"elapsed={took:.1f}s")
        slowest = tracker.slowest_tasks()
        logfile.write("# slowest tasks (seconds on the slowest host):\n"
                      + "\n".join(f"#   {seconds:7.2f}  {task}" for task, seconds in slowest))

    result = PlaybookResult(stage, book, status, rc, path, took, tracker.recap(), tracker.first_failure(), slowest)
    if status == "canceled":
        console.print(f"{stage}: cancelled; log: {path}", soft_wrap=True, markup=False, highlight=False)
        raise KeyboardInterrupt
    print_summary(console, result)
    if not result.ok:
        raise PlaybookStageFailed(result, detail=tracker.error_detail())
    return result
