"""kube_packages pins the exact Kubernetes version, whatever build revision pkgs.k8s.io has (desk
check #11): the role's own apt task arguments, templated by Ansible with the role's defaults."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from tests.unit.roles.harness import ROLES, role_task


def _trusted(value: Any) -> Any:
    """Role defaults as Ansible loads them from the role's files: templates allowed."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


def _packages(**variables: Any) -> list[str]:
    defaults = yaml.safe_load((ROLES / "kube_packages" / "defaults" / "main.yml").read_text())
    task = role_task("kube_packages", "repo.yml", "Kube packages | Install kubelet, kubeadm and kubectl"
                                                  " {{ kube_packages_version }}")
    context = {k: _trusted(v) for k, v in {**defaults, **variables}.items()}
    templar = Templar(loader=DataLoader(), variables={**context, "homelab_kubernetes_version": "1.36.3"})
    return list(templar.template(trust_as_template(task["ansible.builtin.apt"]["name"])))


def test_any_build_of_the_exact_version() -> None:
    assert _packages() == ["kubelet=1.36.3-*", "kubeadm=1.36.3-*", "kubectl=1.36.3-*"]


@pytest.mark.parametrize(("available", "taken"), [
    ("1.36.3-1.1", True), ("1.36.3-2.1", True),  # a republished build has another revision
    ("1.36.4-1.1", False), ("1.36.30-1.1", False), ("1.36.3", False),
])
def test_the_pin_matches_like_the_apt_module(available: str, taken: bool) -> None:
    """The apt module matches a version pattern with fnmatch (and apt's Version pin, the same glob)."""
    pattern = _packages()[0].split("=", 1)[1]
    assert fnmatch.fnmatch(available, pattern) == taken


def test_a_revision_still_pins_one_build() -> None:
    assert _packages(kube_packages_revision="1.1")[0] == "kubelet=1.36.3-1.1"
