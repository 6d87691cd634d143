"""A problem found in a spec: where (a path like spec.nodes[2].address) and what."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from homelab_ctl.spec.show import quote

Loc = tuple[int | str, ...]
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


def path_of(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _IDENT.fullmatch(part):
            out += f".{part}" if out else part
        else:  # a key with spaces, dots or escapes: quoted, escaped and cut
            out += f"[{quote(part)}]"
    return out or "(document)"


@dataclass(frozen=True)
class Problem:
    loc: Loc
    message: str
    severity: Literal["error", "warning"] = "error"
    line: int | None = None

    @property
    def path(self) -> str:
        return path_of(self.loc)

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.path}: {self.message}{where}"
