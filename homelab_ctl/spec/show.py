"""Values as messages quote them: one line, printable, short (input can hold escapes or megabytes)."""

from __future__ import annotations

import os
from pathlib import Path

LIMIT = 64


def quote(value: object, limit: int = LIMIT) -> str:
    """repr() escapes newlines, terminal escapes and other non-printables; long values are cut."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return repr(text) if isinstance(value, str) else text
    cut = repr(text[:limit]) if isinstance(value, str) else text[:limit]
    return f"{cut}... ({len(text)} characters)"


def path(value: Path | str) -> str:
    """A file name as the terminal can print it: undecodable bytes as \\xNN, control characters escaped."""
    raw = os.fsencode(value).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in raw)
