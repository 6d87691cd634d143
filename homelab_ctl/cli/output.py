"""Printing what commands found: user text is never read as rich markup, and a reader that stops
early (validate --show-defaults | head) ends the output quietly."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from homelab_ctl.spec import Loaded


def print_warnings(loaded: Loaded) -> None:
    from rich.markup import escape

    from homelab_ctl.console import err

    for warning in loaded.warnings:
        err().print(f"[yellow]warning[/yellow] {escape(str(warning))}", soft_wrap=True)


@contextlib.contextmanager
def closed_pipe_ok() -> Iterator[None]:
    """Stop writing when stdout's reader went away; no traceback, and none again at exit."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
