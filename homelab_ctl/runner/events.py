"""Fold ansible-runner's event stream into live per-host state, the recap and the first failure.

Pure (no Ansible, no terminal): every string kept here has already been through the redactor.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from homelab_ctl.runner.result import Failure, HostStats

MAX_MESSAGE = 400
_STATS_KEYS = {"ok": "ok", "changed": "changed", "failures": "failed", "dark": "unreachable",
               "skipped": "skipped", "rescued": "rescued", "ignored": "ignored"}


@dataclass(frozen=True)
class HostLine:
    task: str = ""
    stats: HostStats = field(default_factory=HostStats)


def result_message(res: Mapping[str, Any]) -> str:
    """One line saying why a task failed, from its result (msg, then stderr, then stdout)."""
    if "censored" in res:
        return "output hidden (no_log: true)"
    results = res.get("results")
    if isinstance(results, list):  # a loop: the first failed item says more than "One or more items failed"
        for item in results:
            if isinstance(item, Mapping) and item.get("failed"):
                return result_message(item)
    msg = _text(res.get("msg"))
    stderr = _last_line(_text(res.get("stderr")))
    stdout = _last_line(_text(res.get("stdout")))
    if msg and stderr and stderr not in msg:
        msg = f"{msg}: {stderr}"
    message = msg or stderr or stdout or "failed (no message)"
    message = " ".join(message.split())
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


class Tracker:
    """Consumes events (any thread) and exposes a consistent snapshot for the progress display."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        self._redact = redact
        self._lock = threading.Lock()
        self._hosts: dict[str, HostLine] = {}
        self._failures: list[Failure] = []
        self._final: dict[str, HostStats] | None = None
        self.play = ""
        self.last_lines: deque[str] = deque(maxlen=5)
        self._error: list[str] = []  # Ansible's first error outside any task (syntax, inventory)
        self._task_seconds: dict[str, float] = {}  # task -> its longest run on any host

    # -- feeding
    def feed(self, event: Mapping[str, Any]) -> Failure | None:
        """Record one event; returns the failure it reports, if any (for printing it at once)."""
        kind = str(event.get("event", ""))
        data: Mapping[str, Any] = event.get("event_data") or {}
        stdout = self._redact(str(event.get("stdout") or ""))
        for line in (raw.strip() for raw in stdout.splitlines()):
            if not line:
                continue
            self.last_lines.append(line)
            first = not self._error and line.startswith(("[ERROR]", "ERROR!"))
            where = len(self._error) == 1 and line.startswith("Origin:")
            if first or where:
                self._error.append(line)
        with self._lock:
            if kind in ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable"):
                self._time(data)
            if kind == "playbook_on_play_start":
                self.play = self._redact(str(data.get("name") or data.get("play") or ""))
            elif kind == "runner_on_start":
                self._set(data, task=self._task(data))
            elif kind == "runner_on_ok":
                changed = bool((data.get("res") or {}).get("changed"))
                self._count(data, ok=1, changed=int(changed))
            elif kind == "runner_on_skipped":
                self._count(data, skipped=1)
            elif kind == "runner_on_failed":
                if data.get("ignore_errors"):
                    self._count(data, ok=1, ignored=1)
                    return None
                self._count(data, failed=1)
                return self._fail(data, unreachable=False)
            elif kind == "runner_on_unreachable":
                self._count(data, unreachable=1)
                return self._fail(data, unreachable=True)
            elif kind == "playbook_on_stats":
                self._final = self._stats(data)
        return None

    def _time(self, data: Mapping[str, Any]) -> None:
        # ansible-runner's callback adds the task's duration on this host (seconds)
        seconds = data.get("duration")
        if isinstance(seconds, int | float):
            task = self._task(data)
            self._task_seconds[task] = max(self._task_seconds.get(task, 0.0), float(seconds))

    def slowest_tasks(self, count: int = 10) -> list[tuple[str, float]]:
        """The tasks that took longest (on their slowest host), longest first."""
        with self._lock:
            ranked = sorted(self._task_seconds.items(), key=lambda item: -item[1])
        return [(task, round(seconds, 2)) for task, seconds in ranked[:count]]

    def _task(self, data: Mapping[str, Any]) -> str:
        return self._redact(str(data.get("task") or data.get("task_action") or ""))

    def _host(self, data: Mapping[str, Any]) -> str:
        return self._redact(str(data.get("host") or "?"))

    def _set(self, data: Mapping[str, Any], task: str) -> None:
        host = self._host(data)
        self._hosts[host] = replace(self._hosts.get(host, HostLine()), task=task)

    def _count(self, data: Mapping[str, Any], **delta: int) -> None:
        host = self._host(data)
        line = self._hosts.get(host, HostLine(task=self._task(data)))
        stats = replace(line.stats, **{k: getattr(line.stats, k) + v for k, v in delta.items()})
        self._hosts[host] = replace(line, stats=stats)

    def _fail(self, data: Mapping[str, Any], unreachable: bool) -> Failure:
        res = data.get("res") or {}
        failure = Failure(self._host(data), self._task(data), self._redact(result_message(res)), unreachable)
        self._failures.append(failure)
        return failure

    def _stats(self, data: Mapping[str, Any]) -> dict[str, HostStats]:
        hosts: set[str] = set()
        for key in (*_STATS_KEYS, "processed"):
            hosts.update((data.get(key) or {}).keys())
        return {
            self._redact(h): HostStats(**{f: int((data.get(k) or {}).get(h, 0)) for k, f in _STATS_KEYS.items()})
            for h in sorted(hosts)
        }

    # -- reading
    def snapshot(self) -> dict[str, HostLine]:
        """Per host: current task and counts (the recap's exact counts once the run has ended)."""
        with self._lock:
            lines = dict(self._hosts)
            if self._final is not None:
                for host, stats in self._final.items():
                    lines[host] = replace(lines.get(host, HostLine()), stats=stats)
            return dict(sorted(lines.items()))

    def recap(self) -> dict[str, HostStats]:
        with self._lock:
            if self._final is not None:
                return dict(self._final)
            return {h: line.stats for h, line in sorted(self._hosts.items())}

    def error_detail(self) -> str | None:
        """Ansible's first error line (and where), else the last lines of output."""
        lines = self._error or list(self.last_lines)
        return " ".join(lines) or None

    def first_failure(self) -> Failure | None:
        """The first failure that stuck (not rescued): a host that ends with failed or unreachable."""
        with self._lock:
            final = self._final
            for failure in self._failures:
                stats = final.get(failure.host) if final is not None else None
                if stats is None or stats.failed or stats.unreachable:
                    return failure
            return None
