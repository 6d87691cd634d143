"""A spinner line for the waits: `with spinner("CNI") as progress: wait_for_nodes_ready(..., progress=progress)`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@contextmanager
def spinner(title: str, console: Console | None = None) -> Iterator[Callable[[str], None]]:
    """Shows `title: <latest status> (elapsed)` while the block runs, then one line with the outcome."""
    from rich.text import Text

    from homelab_ctl.console import out

    console = console or out()
    started = time.monotonic()
    last = [""]

    def took() -> str:
        minutes, secs = divmod(int(time.monotonic() - started), 60)
        return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"

    try:
        with console.status(Text(title)) as status:

            def update(message: str) -> None:
                last[0] = message
                status.update(Text(f"{title}: {message} ({took()})"))

            yield update
    except BaseException:  # printed once the spinner is gone, like the success line
        console.print(Text.assemble((title, "bold"), (" failed", "red"), f" after {took()}"), soft_wrap=True)
        raise
    console.print(Text.assemble((title, "bold"), f": {last[0] or 'done'} ({took()})"), soft_wrap=True)
