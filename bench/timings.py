"""Where the time of the last `homelab-ctl up` went: the cluster's timings.json, printed."""

from __future__ import annotations

import json
from pathlib import Path


def timings_file(spec: Path, cluster: str) -> Path:
    return spec.parent / ".homelab-ctl" / cluster / "timings.json"


def breakdown(path: Path, tasks: int = 5) -> None:
    """Per stage: seconds and what it did; for playbook stages, the slowest tasks."""
    for stage in json.loads(path.read_text())["stages"]:
        print(f"    {stage['name']:<14} {stage['seconds']:6.1f} s  {stage['detail']}")
        for task, seconds in stage["tasks"][:tasks]:
            print(f"        {seconds:6.1f} s  {task}")
