"""Run the command line in this process (fast), as main() runs it: exit code, stdout, stderr."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from homelab_ctl.cli import main


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
    logger = logging.getLogger("homelab_ctl")
    before = list(logger.handlers)
    try:
        with pytest.raises(SystemExit) as info:
            main(list(args))
    finally:
        for handler in logger.handlers[len(before):]:  # main() adds its log file handler each time
            handler.close()
            logger.removeHandler(handler)
    captured = capsys.readouterr()
    code = info.value.code
    return Ran(code if isinstance(code, int) else 1, captured.out, captured.err)
