"""What a playbook run returns, and the error raised when it fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from homelab_ctl.errors import PlaybookFailed


@dataclass(frozen=True)
class HostStats:
    """One host's line of the PLAY RECAP (Ansible's meaning: ok includes changed)."""

    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0


@dataclass(frozen=True)
class Failure:
    host: str
    task: str
    message: str
    unreachable: bool = False


@dataclass(frozen=True)
class PlaybookResult:
    stage: str
    playbook: Path
    status: str  # ansible-runner's: successful, failed, canceled, timeout
    rc: int
    log_path: Path
    elapsed: float
    hosts: dict[str, HostStats] = field(default_factory=dict)
    failure: Failure | None = None
    slowest_tasks: list[tuple[str, float]] = field(default_factory=list)  # (task, seconds), longest first

    @property
    def ok(self) -> bool:
        return self.status == "successful" and self.rc == 0

    @property
    def changed(self) -> int:
        """Tasks that changed something, over all hosts: 0 on a converged cluster."""
        return sum(s.changed for s in self.hosts.values())

    @property
    def changed_hosts(self) -> list[str]:
        return sorted(h for h, s in self.hosts.items() if s.changed)


class PlaybookStageFailed(PlaybookFailed):
    """A playbook failed: names the stage, the host, the task and the full log (exit code 5)."""

    def __init__(self, result: PlaybookResult, detail: str | None = None) -> None:
        failure = result.failure
        if failure is not None:
            what = "unreachable" if failure.unreachable else "failed"
            message = (f"{result.stage}: {failure.host} {what} at task '{failure.task}': {failure.message}"
                       f" (log: {result.log_path})")
        else:
            message = f"{result.stage}: ansible-playbook {result.status} (rc={result.rc})"
            if detail:
                message += f": {detail}"
            message += f" (log: {result.log_path})"
        super().__init__(message, hint=f"fix the cause and run again; the full output is in {result.log_path}")
        self.result = result
        self.host = failure.host if failure else None
        self.task = failure.task if failure else None
        self.log_path = result.log_path
