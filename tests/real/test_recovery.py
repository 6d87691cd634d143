"""Runs cut short during the control-plane stage are completed by the next `up`, for real: the admin
machine dying (SIGKILL to the whole `up` process group) and the node itself dying mid `kubeadm init`."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from homelab_ctl.lab import machines

from .conftest import Labs, kubeadm_running, up, up_until


def _ready_nodes(kubeconfig: Path) -> list[str]:
    api = k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(kubeconfig)))
    return [n.metadata.name for n in api.list_node().items
            if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]


def test_up_killed_during_kubeadm_init_is_completed_by_the_next_up(labs: Labs,
                                                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    lab = labs.make(1, 0, tmp_path_factory.mktemp("killed"))
    node = lab.machines[0].name
    cut = up_until(lab.spec_path, lambda: kubeadm_running(node))
    assert cut.returncode != 0 and "control-plane" in cut.output, cut.output[-2000:]
    again = up(lab.spec_path)
    assert again.returncode == 0, again.output[-3000:]
    assert _ready_nodes(lab.directory / ".homelab-ctl" / lab.name / "admin.conf") == [node]


def test_node_stopped_mid_kubeadm_init_is_completed_by_the_next_up(labs: Labs,
                                                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    lab = labs.make(1, 0, tmp_path_factory.mktemp("crashed"))
    node = lab.machines[0]

    def crash() -> bool:
        if not kubeadm_running(node.name):
            return False
        machines.stop(lab, node, timeout=0)  # pull the plug while kubeadm init runs
        return True

    cut = up_until(lab.spec_path, crash, kill=False)  # `up` notices the dead node and fails by itself
    assert cut.returncode != 0, cut.output[-2000:]
    machines.start(lab, node)
    again = up(lab.spec_path)
    assert again.returncode == 0, again.output[-3000:]
    assert _ready_nodes(lab.directory / ".homelab-ctl" / lab.name / "admin.conf") == [node.name]
