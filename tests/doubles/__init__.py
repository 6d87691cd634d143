"""Test doubles of kubeadm and kubelet (and fake packages carrying them) for lab machines.

`kubeadm` is a standalone script (installed as /usr/bin/kubeadm by install.yml); tests import it
as a module through `kubeadm_double()` to reuse its v1beta4 schema and validation.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
KUBEADM = HERE / "kubeadm"


@functools.cache
def kubeadm_double() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("kubeadm_double", str(KUBEADM))
    spec = importlib.util.spec_from_loader("kubeadm_double", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
