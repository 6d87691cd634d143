"""Which backend runs a lab: podman (the default, found through its labels) or vm (qemu).

A VM lab is recorded in labs_dir()/.drivers/NAME.json (driver and lab directory), so that
`lab status/down/stop/start` find it again from any process, whatever its --dir was.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

from homelab_ctl.lab import paths
from homelab_ctl.lab.model import Driver

_DIR = ".drivers"  # lab names never start with a dot: never a lab's default directory


def _path(name: str) -> Path:
    return paths.labs_dir() / _DIR / f"{name}.json"


def record(name: str, driver: Driver, directory: Path) -> None:
    path = _path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"driver": driver, "directory": str(directory)}) + "\n", encoding="utf-8")


def recorded(name: str) -> tuple[Driver, Path] | None:
    """The recorded driver and directory of a lab; None for a podman lab (or no lab)."""
    try:
        data = json.loads(_path(name).read_text(encoding="utf-8"))
        driver, directory = data["driver"], Path(data["directory"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (driver, directory) if driver == "vm" else None


def recorded_names() -> list[str]:
    folder = paths.labs_dir() / _DIR
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def forget(name: str) -> None:
    _path(name).unlink(missing_ok=True)


def of(name: str) -> Driver:
    return "vm" if recorded(name) else "podman"


def backend(driver: Driver) -> ModuleType:
    """The module with up/get/exists/down/stop/start for this driver."""
    if driver == "vm":
        from homelab_ctl.lab import vm

        return vm
    from homelab_ctl.lab import machines

    return machines
