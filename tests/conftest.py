"""Shared fixtures. Lab fixtures build the lab image on first use (part of the test run in CI)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UPSTREAM = REPO.parent / "shared" / "upstream"


@pytest.fixture(scope="session")
def upstream() -> Path:
    """Real upstream manifests and CRD schemas (../shared/upstream); skipped when absent."""
    if not UPSTREAM.is_dir():
        pytest.skip(f"{UPSTREAM} not present (a fresh clone has no ../shared)")
    return UPSTREAM


@pytest.fixture(scope="session")
def lab_image() -> str:
    """The lab machine image (built with debootstrap when missing); its name."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (apt-get install podman runc debootstrap)")
    from homelab_ctl.lab import image

    return image.ensure_image()
