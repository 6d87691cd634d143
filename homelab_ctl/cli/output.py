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


class _Closed(Exception):
    pass


def _closed() -> None:
    raise _Closed


@contextlib.contextmanager
def closed_pipe_ok() -> Iterator[None]:
    """Stop writing when stdout's reader went away (`| head`): no traceback, none again at exit, and
    exit 0 rather than rich's 1 (which means a bug here). Only for output that is the whole result."""
    from homelab_ctl.console import out

    console = out()
    setattr(console, "on_broken_pipe", _closed)  # noqa: B010 -- rich's hook, on this console only
    try:
        yield
        sys.stdout.flush()
    except (BrokenPipeError, _Closed):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    finally:
        del console.on_broken_pipe
