"""The probe output parser, on a real lab output and on hand-written outputs of other hosts."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from homelab_ctl.facts import probe
from homelab_ctl.facts.gather import facts_from
from homelab_ctl.facts.models import HostKey, Listener
from homelab_ctl.facts.ssh import Target

PROBES = Path(__file__).resolve().parents[2] / "fixtures" / "facts" / "probe"
KEY = HostKey(type="ssh-ed25519", sha256="SHA256:x")


def parsed(name: str) -> probe.Parsed:
    return probe.parse((PROBES / name).read_text())


def test_lab_machine() -> None:
    p = parsed("lab-debian12.txt")
    assert p.complete
    assert (p.os_id, p.os_version_id, p.arch, p.sudo, p.user) == ("debian", "12", "amd64", "root", "root")
    assert p.product_uuid is None  # containers have no /sys/class/dmi
    assert p.machine_id is not None and len(p.machine_id) == 32
    assert p.cgroup_version == 1
    assert p.swap_mb == 0 and p.cpus and p.memory_mb and p.var_free_mb
    assert p.default_route_interface == "eth0"
    assert p.interfaces is not None
    eth0 = next(i for i in p.interfaces if i.name == "eth0")
    assert eth0.virtual and eth0.mac and eth0.addresses[0].startswith("10.")
    assert p.ports_known and {(x.port, x.process) for x in p.listeners or []} == {(22, "sshd")}
    assert p.modules == {"overlay": "builtin", "br_netfilter": "builtin", "vxlan": "builtin"}
    assert p.sysctls == dict.fromkeys(probe.SYSCTLS, "1")
    assert p.versions == {"containerd": None, "kubelet": None, "kubeadm": None}
    assert not p.kubelet_conf


def test_cluster_member_on_a_pi() -> None:
    p = parsed("ubuntu-member.txt")
    assert (p.os_id, p.os_version_id, p.machine, p.arch, p.cgroup_version) == ("ubuntu", "24.04", "aarch64",
                                                                              "arm64", 2)
    assert p.product_uuid == "4c4c4544-0042-3510-8052-b4c04f4b4e32"  # lower-cased
    assert p.swap_mb == 1023
    assert p.sudo == "ok" and p.user == "admin"
    assert p.versions == {"containerd": "1.7.12", "kubelet": "1.36.3", "kubeadm": "1.36.3"}
    assert p.kubelet_conf and p.admin_conf
    assert p.listeners is not None
    assert Listener(proto="tcp", address="*", port=6443, process="kube-apiserver") in p.listeners
    assert Listener(proto="udp", address="0.0.0.0", port=8472, process=None) in p.listeners  # kernel VXLAN
    assert Listener(proto="udp", address="127.0.0.53", port=53, process="systemd-resolve") in p.listeners
    names = {i.name: i for i in p.interfaces or []}
    assert not names["eth0"].virtual and names["flannel.1"].virtual
    assert names["eth0"].addresses == ["192.168.10.11/24", "fe80::dea6:32ff:fe01:203/64"]
    # systemd-resolved runs: the kubelet gives pods its upstream file, not the 127.0.0.53 stub
    assert p.resolv_conf == "/run/systemd/resolve/resolv.conf"
    assert p.nameservers == ["192.168.10.1", "fe80::1%eth0"]


def test_minimal_host_without_tools() -> None:
    p = parsed("minimal.txt")
    assert p.remote_clock == 1767225600.0  # a date without %N
    assert p.product_uuid is None  # all zeros: unset DMI data is no identity
    assert p.machine_id is None
    assert p.sudo == "missing"
    assert p.cgroup_version is None and p.var_free_mb is None
    assert p.arch == "riscv64"
    assert p.default_route_interface == "eth0"  # from /proc/net/route
    assert p.ports_known
    assert p.listeners == [
        Listener(proto="tcp", address="0.0.0.0", port=22),
        Listener(proto="tcp", address="127.0.0.1", port=6443),
        Listener(proto="tcp", address="::", port=10250),
        Listener(proto="udp", address="0.0.0.0", port=8472),
    ]  # the ESTABLISHED connection (state 01) is not a listener
    assert p.modules == {"overlay": "unknown", "br_netfilter": "missing", "vxlan": "available"}
    assert p.sysctls == {"net.ipv4.ip_forward": "0", "net.bridge.bridge-nf-call-iptables": None,
                         "net.bridge.bridge-nf-call-ip6tables": None}
    assert p.virt_flag == "vmx" and not p.kvm
    assert (p.resolv_conf, p.nameservers) == ("/etc/resolv.conf", [])  # no resolver file at all


def test_empty_or_cut_output() -> None:
    p = probe.parse("")
    assert not p.complete and p.os_id is None and p.cpus is None and not p.ports_known
    cut = (PROBES / "lab-debian12.txt").read_text().split(f"{probe.MARK} listen")[0]
    p = probe.parse(cut)
    assert not p.complete and p.os_id == "debian" and not p.ports_known


def test_facts_from_output_computes_clock_offset_and_address() -> None:
    out = (PROBES / "ubuntu-member.txt").read_bytes()
    target = Target("pi-cp1", "192.168.10.11", "192.168.10.11", 22, "admin", None, Path("/x"))
    # Remote clock 1767225600.25; sent at .10, arrived at .20 -> midpoint .15, offset +0.1 (±0.05)
    facts = facts_from(target, KEY, probe.RunOutput(out, 1767225600.10, 1767225600.20, 0.2))
    assert facts.clock_offset_s == pytest.approx(0.1)
    assert facts.clock_uncertainty_s == pytest.approx(0.05)
    assert facts.address_interface == "eth0" and facts.address_on_host
    assert facts.identity_macs == ["dc:a6:32:01:02:03", "dc:a6:32:01:02:04"]  # physical NICs only
    assert {x.port for x in facts.listeners} == {8472, 10257, 10259, 2380, 2379, 10250, 6443}  # no 22, no 53
    other = facts_from(target.__class__("x", "10.0.0.9", "h", 22, "u", None, Path("/x")), KEY,
                       probe.RunOutput(out, 0, None, 0.1))
    assert other.address_interface is None and other.clock_offset_s is None


def test_clock_end_offset() -> None:
    text = f"\n{probe.MARK} clock\n123.5\n\n{probe.MARK} user\nroot\n".encode()
    end = probe.clock_end(text)
    assert end is not None and text[:end].endswith(b"123.5")


@pytest.mark.skipif(shutil.which("sh") is None, reason="no /bin/sh")
def test_script_runs_locally_with_posix_sh() -> None:
    """The script itself, run by this machine's sh (dash on Debian): every section, parseable."""
    result = subprocess.run(["sh", "-s"], input=probe.SCRIPT, capture_output=True, text=True, timeout=30,
                            check=False)
    assert result.returncode == 0, result.stderr
    p = probe.parse(result.stdout)
    assert p.complete and p.os_id and p.cpus and p.memory_mb and p.interfaces
    names = set(probe.sections(result.stdout))
    assert {"clock", "os", "links", "listen", "modules", "sysctl", "resolv", "kvm", "versions", "member",
            "drift", "end"} <= names
    assert p.drift is not None
    hosts = p.drift["file:/etc/hosts"]
    assert len(hosts) == 64 and hosts == subprocess.run(["sha256sum", "/etc/hosts"], capture_output=True, text=True,
                                                        check=True).stdout.split()[0]
    for path in ("/etc/containerd/config.toml", "/etc/kubernetes/encryption/config.yaml"):
        # a file the roles write: its sha256 when it is there, "-" when it is not
        expected = hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).exists() else "-"
        assert p.drift[f"file:{path}"] == expected
    assert p.drift["swap:active"].isdigit()
    resolved = subprocess.run(["systemctl", "is-active", "systemd-resolved"], capture_output=True, text=True,
                              check=False).stdout.strip() == "active"
    resolv = Path("/run/systemd/resolve/resolv.conf" if resolved else "/etc/resolv.conf")
    assert p.resolv_conf == str(resolv)
    assert p.nameservers == [line.split()[1] for line in resolv.read_text().splitlines()
                             if line.startswith("nameserver ")]
    assert {"service:containerd", "service:kubelet"} <= set(p.drift)


def test_drift_section_parse() -> None:
    text = (f"{probe.MARK} member\n/etc/kubernetes/kubelet.conf\n{probe.CONTROL_PLANE_MARKER}\n"
            f"{probe.MARK} drift\n"
            "file:/etc/containerd/config.toml 0f3a\nfile:/etc/kubernetes/manifests/kube-vip.yaml -\n"
            "sysctl:net.ipv4.ip_forward 1\nservice:containerd active  enabled\n"
            "package:kubelet 1.36.3-1.1 hold installed\nnot-a-key\nfile:/etc/hosts first\nfile:/etc/hosts again\n"
            f"{probe.MARK} end\n")
    p = probe.parse(text)
    assert p.kubelet_conf and p.control_plane_complete and not p.admin_conf
    assert p.drift == {"file:/etc/containerd/config.toml": "0f3a", "file:/etc/kubernetes/manifests/kube-vip.yaml": "-",
                       "sysctl:net.ipv4.ip_forward": "1", "service:containerd": "active enabled",
                       "package:kubelet": "1.36.3-1.1 hold installed", "file:/etc/hosts": "first"}


@pytest.mark.skipif(shutil.which("checkbashisms") is None and shutil.which("dash") is None,
                    reason="neither dash nor checkbashisms installed")
def test_script_is_posix() -> None:
    tool = shutil.which("dash")
    assert tool is not None
    result = subprocess.run([tool, "-n"], input=probe.SCRIPT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
