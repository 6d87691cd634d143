"""Run the roles' own decision tasks with ansible-playbook on this machine, against fake nodes.

Nothing on this machine is touched: every inventory host is ansible_connection=local, and only task
files that probe and decide are run (never kubeadm, never a write outside the test's directory). The
probe scripts of the roles see a node's filesystem under HOMELAB_PROBE_ROOT=<scenario>/<host> (the
scripts' test hook), and a fake kubectl (FAKE_KUBECTL below) answers the API questions from files
there: kubectl-configmap (ok | notfound | forbidden | down) and kubectl-nodes (labelled |
unlabelled | down); a fake kubeadm (FAKE_KUBEADM) creates and deletes tokens, or fails as with the
API down (kubeadm-answer: ok | down). A scenario is one play; one ansible-playbook run plays them all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from homelab_ctl.render import kubeadm

ROLES = kubeadm.roles_dir()
CONTROL_PLANES = ["cp1", "cp2", "cp3"]
WORKERS = ["w1"]

FAKE_KUBECTL = r"""#!/bin/bash
# TEST DOUBLE of kubectl for tests/unit/roles: answers from files of the fake node's root.
root=${HOMELAB_PROBE_ROOT:?}
echo "$*" >> "$root/kubectl.calls"
case " $* " in
  *" configmap "*) what=configmap ;;
  *" nodes "*) what=nodes ;;
  *) echo "fake kubectl: unexpected $*" >&2; exit 2 ;;
esac
answer=$(cat "$root/kubectl-$what" 2>/dev/null || echo down)
node=$(printf '%s\n' "$@" | sed -n 's/^metadata.name=//p')
case "$what:$answer" in
  configmap:ok) echo configmap/kubeadm-config ;;
  configmap:notfound) echo 'Error from server (NotFound): configmaps "kubeadm-config" not found' >&2; exit 1 ;;
  configmap:forbidden)
    echo 'Error from server (Forbidden): configmaps "kubeadm-config" is forbidden: User "kubernetes-admin"' \
         'cannot get resource "configmaps" in API group "" in the namespace "kube-system"' >&2; exit 1 ;;
  nodes:labelled) echo "node/$node" ;;
  nodes:unlabelled) echo 'No resources found' >&2 ;;
  *) echo 'The connection to the server 192.168.10.50:6443 was refused - did you specify the right host or port?' >&2
     exit 1 ;;
esac
"""

FAKE_KUBEADM = r"""#!/bin/bash
# TEST DOUBLE of kubeadm for tests/unit/roles: token create/delete and upload-certs answer from the
# fake node's root (kubeadm-answer: ok | down); everything else is refused.
root=${HOMELAB_PROBE_ROOT:?}
echo "$*" >> "$root/kubeadm.calls"
answer=$(cat "$root/kubeadm-answer" 2>/dev/null || echo down)
if [ "$answer" != ok ]; then
  echo 'error: timed out waiting for the condition: Get "https://192.168.10.50:6443/api/v1/namespaces/kube-system/configmaps/kubeadm-config": dial tcp 192.168.10.50:6443: connect: connection refused' >&2
  echo 'To see the stack trace of this error execute with --v=5 or higher' >&2
  exit 1
fi
case "$1 $2" in
  "token create") echo abcdef.0123456789abcdef ;;
  "token delete") echo "bootstrap token \"$3\" deleted" ;;
  "init phase") echo "[upload-certs] Using certificate key:"; printf 'b%.0s' $(seq 64); echo ;;
  *) echo "fake kubeadm: unexpected $*" >&2; exit 2 ;;
esac
"""


@dataclass
class Node:
    """What exists on a fake node: files (absolute paths) and the API's answers to its kubectl."""

    files: list[str] = field(default_factory=list)
    configmap: str = "down"
    nodes: str = "down"
    kubeadm: str = "ok"  # token create/delete, upload-certs: ok | down


@dataclass
class Scenario:
    name: str
    nodes: dict[str, Node]
    kubectl: bool = True  # False: no kubectl on the nodes (the lab machines with the doubles)
    variables: dict[str, Any] = field(default_factory=dict)


class Playground:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.bin = tmp / "bin"
        self.bin.mkdir(parents=True)
        for name, text in (("kubectl", FAKE_KUBECTL), ("kubeadm", FAKE_KUBEADM)):
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)
        # A PATH without any kubectl: every other command of /usr/bin and /usr/sbin.
        self.nobin = tmp / "nobin"
        self.nobin.mkdir()
        for d in (Path("/usr/bin"), Path("/usr/sbin"), Path("/bin"), Path("/sbin")):
            if d.is_dir() and not d.is_symlink():
                for tool in d.iterdir():
                    link = self.nobin / tool.name
                    if tool.name not in ("kubectl", "kubeadm") and not link.exists():
                        link.symlink_to(tool)

    def root(self, scenario: str, host: str) -> Path:
        return self.tmp / "scenarios" / scenario / host

    def _prepare(self, scenario: Scenario) -> None:
        for host in CONTROL_PLANES + WORKERS:
            node = scenario.nodes.get(host, Node())
            root = self.root(scenario.name, host)
            root.mkdir(parents=True)
            for f in node.files:
                target = root / f.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("present\n")
            (root / "kubectl-configmap").write_text(node.configmap)
            (root / "kubectl-nodes").write_text(node.nodes)
            (root / "kubeadm-answer").write_text(node.kubeadm)

    def _inventory(self) -> Path:
        hosts = {h: {"homelab_node_address": f"192.168.10.{11 + i}"} for i, h in enumerate(CONTROL_PLANES + WORKERS)}
        inventory = {"all": {
            "vars": {
                "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                "homelab_first_control_plane": "cp1", "homelab_kubernetes_version": "1.36.3",
                "homelab_vip": "192.168.10.50", "homelab_vip_interface": "eno1", "homelab_control_plane_port": 6443,
                "homelab_control_plane_host": "192.168.10.50",
            },
            "hosts": hosts,
            "children": {
                "kube_control_plane": {"hosts": dict.fromkeys(CONTROL_PLANES)},
                "etcd": {"hosts": dict.fromkeys(CONTROL_PLANES)},
                "kube_node": {"hosts": dict.fromkeys(WORKERS)},
                "k8s_cluster": {"children": {"kube_control_plane": None, "kube_node": None}},
            },
        }}
        path = self.tmp / "inventory.yml"
        path.write_text(yaml.safe_dump(inventory))
        return path

    def run(self, scenarios: list[Scenario], tasks: list[dict[str, Any]], facts: list[str],
            hosts: str = "all") -> dict[str, dict[str, dict[str, Any]]]:
        """Play `tasks` once per scenario; {scenario: {host: {fact: value}}} of the facts after it."""
        plays = []
        out = self.tmp / "out"
        kept = "{{ {" + ", ".join(f"'{f}': ({f} | default(None))" for f in facts) + "} }}"
        for scenario in scenarios:
            self._prepare(scenario)
            path = str(self.bin) + ":" + os.environ["PATH"] if scenario.kubectl else str(self.nobin)
            plays.append({
                "name": f"Scenario {scenario.name}", "hosts": hosts, "gather_facts": False,
                "vars": {"probe_root": str(self.tmp / "scenarios" / scenario.name), **scenario.variables},
                "environment": {"HOMELAB_PROBE_ROOT": "{{ probe_root }}/{{ item | default(inventory_hostname) }}",
                                "PATH": path},
                # set_fact facts outlive a play (clear_facts forgets only gathered ones): start from None
                "tasks": [{"name": "Start afresh", "ansible.builtin.set_fact": dict.fromkeys(facts)}, *tasks,
                          {"name": "Gather the facts", "ansible.builtin.set_fact": {"harness_kept": kept}},
                          {"name": "Keep them", "run_once": True, "ansible.builtin.copy": {
                              "dest": f"{out}/{scenario.name}.json", "mode": "0644",
                              "content": "{{ dict(ansible_play_hosts | zip(ansible_play_hosts"
                                         " | map('extract', hostvars, 'harness_kept'))) | to_json }}"}},
                          {"name": "Forget them", "ansible.builtin.meta": "clear_facts"}],
            })
        out.mkdir(parents=True, exist_ok=True)
        playbook = self.tmp / "playbook.yml"
        playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
        env = {**os.environ, "ANSIBLE_ROLES_PATH": str(ROLES), "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_RETRY_FILES_ENABLED": "0", "ANSIBLE_LOCAL_TEMP": str(self.tmp / "ansible-local"),
               "ANSIBLE_REMOTE_TEMP": str(self.tmp / "ansible-remote"), "ANSIBLE_FORKS": "4",
               "ANSIBLE_PIPELINING": "1"}
        tool = Path(sys.executable).with_name("ansible-playbook")
        result = subprocess.run([str(tool), "-i", str(self._inventory()), str(playbook)], capture_output=True,
                                text=True, check=False, env=env, cwd=self.tmp)
        self.output = result.stdout + result.stderr
        assert result.returncode == 0, self.output[-6000:]
        return {s.name: json.loads((out / f"{s.name}.json").read_text()) for s in scenarios}


def role_task(role: str, file: str, name: str) -> dict[str, Any]:
    """One task of a role's task file, by name, as written there."""
    tasks = yaml.safe_load((ROLES / role / "tasks" / file).read_text())
    (task,) = [t for t in tasks if t.get("name") == name]
    return dict(task)
