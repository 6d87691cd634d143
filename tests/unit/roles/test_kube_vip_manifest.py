"""roles/kube_vip/templates/kube-vip.yaml.j2 renders a valid v1 Pod (kubernetes-validate, strict,
Kubernetes 1.36), with Jinja2 and with Ansible's template module alike (same bytes), for both
kubeconfigs the role chooses between (super-admin.conf during the first kubeadm init, admin.conf
otherwise)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from homelab_ctl.render import kubeadm

ROLES = kubeadm.roles_dir()
TEMPLATE = "kube_vip/templates/kube-vip.yaml.j2"
VARS = {
    "inventory_hostname": "cp1",
    "homelab_vip": "192.168.10.50",
    "homelab_vip_interface": "eno1",
    "homelab_control_plane_port": 8443,
    "homelab_first_control_plane": "cp1",
    "homelab_kubernetes_version": "1.36.3",
    "homelab_node_address": "192.168.10.11",
}


def _defaults(**variables: Any) -> dict[str, Any]:
    raw = yaml.safe_load((ROLES / "kube_vip" / "defaults" / "main.yml").read_text())
    return kubeadm.resolve_defaults(raw, {**VARS, **variables})


def _render(kubeconfig: str, **variables: Any) -> str:
    context = {**_defaults(**variables), **VARS, **variables, "_kube_vip_kubeconfig": kubeconfig}
    return kubeadm.environment(ROLES).get_template(TEMPLATE).render(context)


def _env(pod: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}


@pytest.mark.parametrize("kubeconfig", ["super-admin.conf", "admin.conf"])
def test_manifest_is_a_valid_pod(kubeconfig: str) -> None:
    pod = yaml.safe_load(_render(kubeconfig))
    kubernetes_validate.validate(pod, "1.36.0", strict=True)
    (container,) = pod["spec"]["containers"]
    assert container["image"] == "ghcr.io/kube-vip/kube-vip:v1.2.1"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["address"] == "192.168.10.50" and env["port"] == "8443" and env["vip_interface"] == "eno1"
    assert env["vip_arp"] == env["cp_enable"] == env["vip_leaderelection"] == "true" and env["svc_enable"] == "false"
    assert all(isinstance(v, str) for v in env.values() if v is not None), "env values must be strings"
    (volume,) = pod["spec"]["volumes"]
    assert volume["hostPath"] == {"path": f"/etc/kubernetes/{kubeconfig}", "type": "File"}
    assert container["volumeMounts"][0]["mountPath"] == "/etc/kubernetes/admin.conf"
    assert pod["spec"]["hostNetwork"] is True


def test_kube_vip_version_is_the_catalog_pin() -> None:
    from homelab_ctl.addons import catalog

    assert _defaults()["kube_vip_version"] == catalog.KUBE_VIP.version


def test_ansible_template_module_renders_the_same_valid_pod(tmp_path: Path) -> None:
    out = tmp_path / "kube-vip.yaml"
    playbook = tmp_path / "render.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Render the kube-vip static pod", "hosts": "all", "gather_facts": False,
        "vars_files": [str(ROLES / "kube_vip" / "defaults" / "main.yml")],
        "tasks": [{"name": "Render", "ansible.builtin.template": {"src": str(ROLES / TEMPLATE), "dest": str(out),
                                                                   "mode": "0600"}}],
    }]))
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({**{k: v for k, v in VARS.items() if k != "inventory_hostname"},
                                 "_kube_vip_kubeconfig": "admin.conf"}))
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "cp1,", str(playbook),
         "-e", f"@{extra}", "-e", "ansible_connection=local", "-e", f"ansible_python_interpreter={sys.executable}"],
        capture_output=True, text=True, check=False, env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert out.read_text() == _render("admin.conf")
    kubernetes_validate.validate(yaml.safe_load(out.read_text()), "1.36.0", strict=True)


@pytest.mark.parametrize(("vip", "node", "subnet", "metrics"), [
    ("192.168.10.50", "192.168.10.11", "32", "192.168.10.11:2112"),
    ("fd00:10::50", "fd00:10::11", "128", "[fd00:10::11]:2112"),
])
def test_vip_subnet_and_metrics_address_follow_the_address_family(vip: str, node: str, subnet: str,
                                                                  metrics: str) -> None:
    """An IPv6 VIP is a /128 host route, not /32 (desk check #10); the unauthenticated metrics
    listen on the node's address only, not on every interface of the host network (#16)."""
    pod = yaml.safe_load(_render("admin.conf", homelab_vip=vip, homelab_node_address=node))
    kubernetes_validate.validate(pod, "1.36.0", strict=True)
    env = _env(pod)
    assert env["address"] == vip and env["vip_subnet"] == subnet
    assert env["prometheus_server"] == metrics
    assert pod["spec"]["containers"][0]["args"] == ["manager"]


def test_metrics_off_means_no_listener() -> None:
    """Without prometheus_server kube-vip listens on its default :2112: off is an empty flag."""
    pod = yaml.safe_load(_render("admin.conf", kube_vip_metrics_port=0))
    kubernetes_validate.validate(pod, "1.36.0", strict=True)
    assert "prometheus_server" not in _env(pod)
    assert pod["spec"]["containers"][0]["args"] == ["manager", "--prometheusHTTPServer="]

