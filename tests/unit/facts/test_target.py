"""Where preflight connects: per-node ssh overrides, else spec.ssh, else the node address."""

from __future__ import annotations

from pathlib import Path

import pytest

from homelab_ctl.facts import targets
from homelab_ctl.spec import load

SPEC = """\
apiVersion: homelab-ctl/v1alpha1
kind: Cluster
metadata: {name: home}
spec:
  kubernetes: {controlPlaneEndpoint: {vip: 192.168.10.50}}
  ssh: {user: admin, port: 2222, privateKeyFile: keys/id_ed25519, knownHostsFile: ~/kh}
  nodes:
    - {name: cp1, address: 192.168.10.11, roles: [control-plane]}
    - name: cp2
      address: 192.168.10.12
      roles: [control-plane]
      ssh: {host: 127.0.0.1, port: 2202, user: root, privateKeyFile: /abs/key, knownHostsFile: lab/known_hosts}
    - {name: cp3, address: 192.168.10.13, roles: [control-plane], ssh: {user: ops}}
"""


def test_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = tmp_path / "cluster.yaml"
    path.write_text(SPEC)
    cp1, cp2, cp3 = targets(load(path))
    assert (cp1.host, cp1.port, cp1.user, cp1.address) == ("192.168.10.11", 2222, "admin", "192.168.10.11")
    assert cp1.key_file == tmp_path / "keys" / "id_ed25519"  # relative to the spec file
    assert cp1.known_hosts == tmp_path / "home" / "kh"  # ~ expanded
    assert str(cp1) == "admin@192.168.10.11:2222" and cp1.known_name == "[192.168.10.11]:2222"
    assert (cp2.host, cp2.port, cp2.user, cp2.address) == ("127.0.0.1", 2202, "root", "192.168.10.12")
    assert cp2.key_file == Path("/abs/key") and cp2.known_hosts == tmp_path / "lab" / "known_hosts"
    assert (cp3.host, cp3.port, cp3.user) == ("192.168.10.13", 2222, "ops")


def test_defaults_use_agent_and_users_known_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "cluster.yaml"
    path.write_text("apiVersion: homelab-ctl/v1alpha1\nkind: Cluster\nmetadata: {name: one}\n"
                    "spec: {nodes: [{name: n1, address: 10.0.0.1, roles: [control-plane]}]}\n")
    (t,) = targets(load(path))
    assert t.key_file is None and t.port == 22 and t.user == "root" and t.known_name == "10.0.0.1"
    assert t.known_hosts == tmp_path / ".ssh" / "known_hosts"
