"""A registry of secret values (join tokens, certificate keys, encryption keys) that the runner
replaces with ******** in everything it writes or prints.

Ansible already censors no_log tasks; this is the second belt: a secret echoed by a task that
forgot no_log, or quoted in an error message, still never reaches the log file or the terminal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

MASK = "********"
# Shorter values would mask ordinary words and hide real output; secrets we generate are longer.
MIN_LENGTH = 6


class Redactor:
    """Replaces every registered secret (and its JSON-escaped form) with MASK."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for value in secrets:
            self.add(value)

    def add(self, secret: str) -> None:
        if not secret:
            return
        if len(secret) < MIN_LENGTH:
            raise ValueError(f"a secret must be at least {MIN_LENGTH} characters to be redacted reliably")
        # Ansible prints results as JSON: quotes, backslashes and newlines appear escaped there.
        self._values.update({secret, json.dumps(secret)[1:-1], secret.strip()})
        self._values.discard("")
        # Longest first so that a secret containing another one is masked whole.
        alternatives = sorted(self._values, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in alternatives))

    def extend(self, secrets: Iterable[str]) -> None:
        for value in secrets:
            self.add(value)

    def __len__(self) -> int:
        return len(self._values)

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)
