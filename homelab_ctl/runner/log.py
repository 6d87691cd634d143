"""The full Ansible output of one stage, redacted, in state_dir/logs/<timestamp>-<stage>.log."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TextIO


def log_path(state_dir: Path, stage: str, now: datetime | None = None) -> Path:
    """A new, unique file name; the directory is created private (logs name hosts and paths)."""
    logs = state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", stage).strip("-") or "stage"
    path, n = logs / f"{stamp}-{safe}.log", 1
    while path.exists():
        n += 1
        path = logs / f"{stamp}-{safe}-{n}.log"
    return path


class LogWriter:
    """Appends text through the redactor, flushing each write so that `tail -f` follows the run."""

    def __init__(self, path: Path, redact: Callable[[str], str]) -> None:
        self.path = path
        self._redact = redact
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._fh: TextIO = os.fdopen(fd, "w", encoding="utf-8", errors="replace")

    def write(self, text: str) -> None:
        if not text:
            return
        # ansible-runner reads Ansible through a pty: CRLF line ends.
        text = self._redact(text.replace("\r\n", "\n").replace("\r", "\n"))
        self._fh.write(text if text.endswith("\n") else text + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
