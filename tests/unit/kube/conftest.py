from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from homelab_ctl.kube import Kube, connect
from tests.doubles.apiserver import KubeApiDouble, serve, write_kubeconfig


@pytest.fixture()
def api() -> Iterator[KubeApiDouble]:
    """The Kubernetes API TEST DOUBLE (see tests/doubles/apiserver.py) on 127.0.0.1."""
    with serve() as double:
        yield double


@pytest.fixture()
def kube(api: KubeApiDouble, tmp_path: Path) -> Iterator[Kube]:
    with connect(write_kubeconfig(tmp_path / "kubeconfig", api.url)) as k:
        yield k
