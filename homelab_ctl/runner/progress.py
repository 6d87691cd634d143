"""Live progress of a playbook run on the terminal (rich): stage, elapsed time, and per host the
current task and the ok/changed/failed/unreachable counts. Everything shown is already redacted."""

from __future__ import annotations

import time

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from homelab_ctl.runner.events import Tracker
from homelab_ctl.runner.result import Failure, PlaybookResult


def elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class StageView:
    """A rich renderable re-drawn by Live a few times per second."""

    def __init__(self, stage: str, tracker: Tracker, started: float | None = None) -> None:
        self.stage = stage
        self.tracker = tracker
        self.started = time.monotonic() if started is None else started

    def __rich__(self) -> RenderableType:
        header = Text.assemble((self.stage, "bold"), "  ", (elapsed(time.monotonic() - self.started), "dim"))
        if self.tracker.play:
            header.append(f"  {self.tracker.play}", style="dim")
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="dim")
        table.add_column("host")
        table.add_column("task", overflow="ellipsis", no_wrap=True, max_width=60)
        for name in ("ok", "changed", "failed", "unreachable"):
            table.add_column(name, justify="right")
        for host, line in self.tracker.snapshot().items():
            s = line.stats
            table.add_row(
                host, line.task, str(s.ok),
                Text(str(s.changed), style="yellow" if s.changed else ""),
                Text(str(s.failed), style="red" if s.failed else ""),
                Text(str(s.unreachable), style="red" if s.unreachable else ""),
            )
        return Group(header, table) if table.row_count else header


def print_failure(console: Console, failure: Failure) -> None:
    what = "unreachable" if failure.unreachable else "failed"
    line = Text.assemble((what, "red"), f" {failure.host}: {failure.task}: {failure.message}")
    console.print(line, soft_wrap=True)


def print_summary(console: Console, result: PlaybookResult) -> None:
    took = elapsed(result.elapsed)
    if result.ok:
        changes = f"{result.changed} changed" if result.changed else "no changes"
        console.print(Text.assemble((result.stage, "bold"), f": ok in {took}, {changes}",
                                    f" on {len(result.hosts)} host{'s' if len(result.hosts) != 1 else ''}"),
                      soft_wrap=True)
    else:
        console.print(Text.assemble((result.stage, "bold"), (f": {result.status}", "red"), f" after {took}",
                                    f"; log: {result.log_path}"), soft_wrap=True)
