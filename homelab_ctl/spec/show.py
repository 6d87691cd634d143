"""Values as messages quote them: one line, printable, short (input can hold escapes or megabytes)."""

from __future__ import annotations

import os
from pathlib import Path

LIMIT = 64


def quote(value: object, limit: int = LIMIT) -> str:
    """repr() escapes newlines, terminal escapes and other non-printables; long values are cut."""
    if not isinstance(value, str):
        text = repr(value)
        return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
    cut = value[:limit]
    while len(repr(cut)) > limit + 2:  # escapes take up to 10 characters each
        cut = cut[:-1]
    return repr(cut) if cut == value else f"{cut!r}... ({len(value)} characters)"


def path(value: Path | str) -> str:
    """A file name as the terminal can print it: undecodable bytes as \\xNN, control characters escaped."""
    raw = os.fsencode(value).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in raw)
