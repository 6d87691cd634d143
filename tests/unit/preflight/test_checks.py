"""The preflight checks as pure functions over recorded facts (no SSH)."""

from __future__ import annotations

from homelab_ctl.facts.models import Interface, Listener, Unreachable
from homelab_ctl.preflight import checks
from homelab_ctl.preflight.findings import Finding

from .common import cluster, facts, lab, metal, node


def problems(findings: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f.host, f.check, f.severity) for f in findings if f.severity != "ok"]


def only(findings: list[Finding], host: str, check: str) -> Finding:
    found = [f for f in findings if f.host == host and f.check == check]
    assert len(found) == 1, found
    return found[0]


def test_clean_lab_has_no_errors_and_falls_back_to_machine_id() -> None:
    spec, results = lab()
    findings = checks.evaluate(spec, results)
    assert problems(findings) == [(n, "cgroup", "warning") for n in results]  # the lab host is cgroup v1
    ident = only(findings, "lab-cp2", "identity")
    assert ident.severity == "ok" and "machine-id" in ident.detail and "no product_uuid" in ident.detail
    checked = {f.check for f in findings if f.host == "lab-cp1"}
    assert {"ssh", "os", "arch", "cpu", "memory", "disk", "modules", "sysctl", "address", "clock", "ports",
            "sudo", "identity"} <= checked


def test_every_finding_has_host_check_severity_detail() -> None:
    spec, results = metal(addons={"kubevirt": {}})
    for f in checks.evaluate(spec, results):
        assert f.host in results and f.check and f.severity in ("error", "warning", "ok") and f.detail
        if f.severity != "ok":
            assert f.fix, f


def test_metal_cluster_with_kubevirt() -> None:
    spec, results = metal(addons={"kubevirt": {"emulation": "auto"}})
    findings = checks.evaluate(spec, results)
    assert problems(findings) == [("w1", "swap", "warning"), ("w1", "kvm", "warning")]
    assert "it will be turned off" in only(findings, "w1", "swap").detail
    assert "emulation" in only(findings, "w1", "kvm").detail
    assert only(findings, "cp1", "identity").detail.startswith("product_uuid 88f5a3c0")
    # The Pi has no product_uuid either: identified by its machine-id.
    assert "machine-id" in only(findings, "w1", "identity").detail


def test_kvm_missing_is_an_error_when_emulation_is_never() -> None:
    spec, results = metal(addons={"kubevirt": {"emulation": "never"}})
    kvm = only(checks.evaluate(spec, results), "w1", "kvm")
    assert kvm.severity == "error" and "VT-x" in (kvm.fix or "")
    spec, results = metal(addons={"kubevirt": {"emulation": "always"}})
    assert only(checks.evaluate(spec, results), "w1", "kvm").severity == "ok"
    spec, results = metal()
    assert not [f for f in checks.evaluate(spec, results) if f.check == "kvm"]  # no KubeVirt, no check


def test_kvm_module_hint_when_cpu_has_vmx() -> None:
    spec, results = metal(addons={"kubevirt": {}})
    results["cp1"] = results["cp1"].model_copy(update={"kvm": False})
    assert "kvm_intel" in (only(checks.evaluate(spec, results), "cp1", "kvm").fix or "")


def test_cloned_vms_share_product_uuid_and_mac() -> None:
    a, b = facts("clone-a"), facts("clone-b")
    spec = cluster([node("vm1", a.address), node("vm2", b.address, "worker")])
    findings = checks.evaluate(spec, {"vm1": a, "vm2": b})
    assert problems(findings) == [
        ("vm1", "identity.duplicate-product-uuid", "error"), ("vm1", "identity.duplicate-mac", "error"),
        ("vm2", "identity.duplicate-product-uuid", "error"), ("vm2", "identity.duplicate-mac", "error"),
    ]
    dup = only(findings, "vm1", "identity.duplicate-product-uuid")
    assert "2f9c4e1a-7d3b-4c5e-9a8f-0b1c2d3e4f50" in dup.detail and "vm2" in dup.detail
    assert "bc:24:11:5e:7a:01" in only(findings, "vm2", "identity.duplicate-mac").detail
    assert "vm1" in only(findings, "vm2", "identity.duplicate-mac").detail


def test_duplicate_machine_id() -> None:
    spec, results = lab()
    results["lab-cp3"] = results["lab-cp3"].model_copy(update={"machine_id": results["lab-cp1"].machine_id})
    findings = checks.evaluate(spec, results)
    errors = [(f.host, f.check) for f in findings if f.severity == "error"]
    assert errors == [("lab-cp1", "identity.duplicate-machine-id"), ("lab-cp3", "identity.duplicate-machine-id")]
    assert "lab-cp3" in only(findings, "lab-cp1", "identity.duplicate-machine-id").detail
    assert "systemd-machine-id-setup" in (only(findings, "lab-cp3", "identity.duplicate-machine-id").fix or "")


def test_loopback_and_zero_macs_are_not_duplicates() -> None:
    spec, results = lab()
    assert all(f.interfaces[-1].mac == "00:00:00:00:00:00" for f in results.values())  # lo everywhere
    assert not [f for f in checks.evaluate(spec, results) if f.check == "identity.duplicate-mac"]


def test_identity_pins() -> None:
    cp1 = facts("metal-cp1")
    pins = {"productUuid": cp1.product_uuid, "machineId": cp1.machine_id, "macs": ["1C:69:7A:0A:11:01"]}
    spec = cluster([node("cp1", cp1.address, identity=pins)])
    assert only(checks.evaluate(spec, {"cp1": cp1}), "cp1", "identity").severity == "ok"
    wrong = {"productUuid": "00000000-1111-2222-3333-444444444444", "machineId": "f" * 32,
             "macs": ["52:54:00:00:00:01"]}
    spec = cluster([node("cp1", cp1.address, identity=wrong)])
    findings = [f for f in checks.evaluate(spec, {"cp1": cp1}) if f.check == "identity.pin"]
    assert [f.severity for f in findings] == ["error"] * 3
    assert "cp1's board changed" in findings[0].detail and "spec.nodes[0].identity.productUuid" in (
        findings[0].fix or "")
    assert "reinstalled" in findings[1].detail and "network card" in findings[2].detail


def test_control_plane_resources() -> None:
    small = facts("metal-cp1", cpus=1, memory_mb=1500)
    spec = cluster([node("cp1", small.address)])
    findings = checks.evaluate(spec, {"cp1": small})
    assert {(f.check, f.severity) for f in findings if f.severity != "ok"} == {("cpu", "error"),
                                                                               ("memory", "error")}
    assert "1500 MB" in only(findings, "cp1", "memory").detail
    # The same machine as a worker: fine (kubeadm's limits are for control planes).
    spec = cluster([node("cp0", "192.168.10.9"), node("cp1", small.address, "worker")])
    findings = checks.evaluate(spec, {"cp1": small})
    assert {only(findings, "cp1", c).severity for c in ("cpu", "memory")} == {"ok"}


def test_os_and_arch() -> None:
    old = facts("metal-cp1", os_id="debian", os_version_id="11", os_pretty_name="Debian GNU/Linux 11 (bullseye)",
                machine="riscv64", arch="riscv64")
    spec = cluster([node("cp1", old.address)])
    findings = checks.evaluate(spec, {"cp1": old})
    assert only(findings, "cp1", "os").severity == "error" and "bullseye" in only(findings, "cp1", "os").detail
    assert "Ubuntu 24.04" in (only(findings, "cp1", "os").fix or "")
    assert only(findings, "cp1", "arch").severity == "error"
    spec, results = metal()
    assert {only(checks.evaluate(spec, results), "cp3", "os").severity} == {"ok"}  # Ubuntu 24.04
    assert only(checks.evaluate(spec, results), "w1", "arch").detail.startswith("arm64")


def test_address_not_on_host_and_flannel_interface() -> None:
    cp1 = facts("metal-cp1")
    spec = cluster([node("cp1", "192.168.10.99")])
    moved = cp1.model_copy(update={"address": "192.168.10.99", "address_interface": None})
    addr = only(checks.evaluate(spec, {"cp1": moved}), "cp1", "address")
    assert addr.severity == "error" and "192.168.10.11/24" in addr.detail
    # The node address on a second NIC while the default route uses the first: Flannel needs iface.
    two = cp1.model_copy(update={
        "interfaces": [*cp1.interfaces, Interface(name="enp2s0", mac="1c:69:7a:0a:22:01",
                                                  addresses=["10.10.0.11/24"])],
        "address": "10.10.0.11", "address_interface": "enp2s0"})
    spec = cluster([node("cp1", "10.10.0.11")])
    fl = only(checks.evaluate(spec, {"cp1": two}), "cp1", "flannel-iface")
    assert fl.severity == "warning" and fl.fix == "set network.flannel.iface: enp2s0"
    spec = cluster([node("cp1", "10.10.0.11")], network={"flannel": {"iface": "enp2s0"}})
    assert not [f for f in checks.evaluate(spec, {"cp1": two}) if f.check == "flannel-iface"]
    spec = cluster([node("cp1", "10.10.0.11")], network={"flannel": {"iface": "eth9"}})
    assert only(checks.evaluate(spec, {"cp1": two}), "cp1", "flannel-iface").severity == "error"


def test_clock() -> None:
    spec = cluster([node("cp1", "192.168.10.11")])
    for offset, uncertainty, severity in [(3.5, 0.01, "error"), (-2.5, 0.01, "error"), (2.1, 0.2, "ok"),
                                          (0.3, 0.01, "ok"), (None, 0.0, "warning")]:
        f = facts("metal-cp1", clock_offset_s=offset, clock_uncertainty_s=uncertainty)
        assert only(checks.evaluate(spec, {"cp1": f}), "cp1", "clock").severity == severity, offset


def test_ports_held_by_other_processes() -> None:
    busy = facts("metal-cp1", listeners=[
        Listener(proto="tcp", address="0.0.0.0", port=6443, process="haproxy"),
        Listener(proto="tcp", address="::", port=10250, process=None),
        Listener(proto="udp", address="0.0.0.0", port=8472, process="kube-proxy"),
    ])
    spec = cluster([node("cp1", busy.address)])
    found = [(f.severity, f.detail) for f in checks.evaluate(spec, {"cp1": busy}) if f.check == "ports"]
    assert found[0][0] == "error" and "6443/tcp (kube-apiserver) is in use by haproxy" in found[0][1]
    assert found[1][0] == "warning" and "10250/tcp" in found[1][1] and "could not be identified" in found[1][1]
    assert found[2][0] == "warning" and "leftover" in found[2][1]
    assert len(found) == 3
    # A worker does not need the control-plane ports; host-gw needs no UDP port.
    spec = cluster([node("cp0", "192.168.10.9"), node("cp1", busy.address, "worker")],
                   network={"flannel": {"backend": "host-gw"}})
    assert [f.severity for f in checks.evaluate(spec, {"cp1": busy}) if f.check == "ports"] == ["warning"]


def test_cluster_member_holds_its_own_ports() -> None:
    member = facts("member-pi-cp1")
    spec = cluster([node("pi-cp1", member.address)], addons={"kubevirt": {}})
    findings = checks.evaluate(spec, {"pi-cp1": member})
    ports = only(findings, "pi-cp1", "ports")
    assert ports.severity == "ok" and "6443/tcp" in ports.detail and "8472/udp" in ports.detail
    assert "already a cluster member" in only(findings, "pi-cp1", "member").detail
    assert problems(findings) == [("pi-cp1", "swap", "warning"), ("pi-cp1", "kvm", "warning")]


def test_installed_kubernetes_of_another_minor() -> None:
    member = facts("member-pi-cp1", versions={"containerd": "1.7.12", "kubelet": "1.34.2", "kubeadm": "1.34.2"})
    spec = cluster([node("pi-cp1", member.address)])
    versions = [f for f in checks.evaluate(spec, {"pi-cp1": member}) if f.check == "versions"]
    assert [f.severity for f in versions] == ["warning", "warning"]


def test_sudo() -> None:
    spec = cluster([node("cp1", "192.168.10.11")])
    f = only(checks.evaluate(spec, {"cp1": facts("metal-cp1", sudo="missing")}), "cp1", "sudo")
    assert f.severity == "error" and "NOPASSWD" in (f.fix or "") and "admin" in f.detail
    assert only(checks.evaluate(spec, {"cp1": facts("metal-cp1")}), "cp1", "sudo").severity == "ok"


def test_kernel_modules_and_cgroup() -> None:
    spec = cluster([node("cp1", "192.168.10.11")])
    f = facts("metal-cp1", modules={"overlay": "loaded", "br_netfilter": "missing", "vxlan": "unknown"},
              cgroup_version=1)
    findings = checks.evaluate(spec, {"cp1": f})
    mod = only(findings, "cp1", "modules")
    assert mod.severity == "error" and "br_netfilter" in mod.detail
    cgroup = only(findings, "cp1", "cgroup")  # 1.36 by default: the kubelet would not start
    assert cgroup.severity == "error" and "failCgroupV1: false" in (cgroup.fix or "")
    opted_in = cluster([node("cp1", "192.168.10.11")], kubernetes={"failCgroupV1": False})
    assert only(checks.evaluate(opted_in, {"cp1": f}), "cp1", "cgroup").severity == "warning"
    older = cluster([node("cp1", "192.168.10.11")], kubernetes={"version": "1.34.2"})
    assert only(checks.evaluate(older, {"cp1": f}), "cp1", "cgroup").severity == "warning"
    f = facts("metal-cp1", modules={"overlay": "builtin", "br_netfilter": "available", "vxlan": "unknown"})
    assert only(checks.evaluate(spec, {"cp1": f}), "cp1", "modules").severity == "warning"
    spec = cluster([node("cp1", "192.168.10.11")], network={"flannel": {"backend": "host-gw"}})
    assert only(checks.evaluate(spec, {"cp1": f}), "cp1", "modules").severity == "ok"  # vxlan not needed


def test_unreachable_host_is_an_error_and_the_others_are_still_checked() -> None:
    spec, results = lab()
    down = Unreachable(node="lab-cp2", target="root@127.0.0.1:2202", reason="refused",
                       message="connection refused by 127.0.0.1:2202", hint="is the machine up?")
    findings = checks.evaluate(spec, {**results, "lab-cp2": down})
    assert [f for f in findings if f.host == "lab-cp2"] == [
        Finding("lab-cp2", "ssh", "error", "unreachable (connection refused): connection refused by 127.0.0.1:2202",
                "is the machine up?")]
    assert only(findings, "lab-cp1", "ssh").severity == "ok"
    assert only(findings, "lab-cp3", "os").severity == "ok"


def test_dns_nameservers_coredns_forwards_to() -> None:
    member = facts("member-pi-cp1")
    spec = cluster([node("pi-cp1", member.address)])

    def dns(path: str | None, servers: list[str] | None) -> list[tuple[str, str]]:
        f = member.model_copy(update={"resolv_conf": path, "nameservers": servers})
        return [(x.severity, x.detail) for x in checks.evaluate(spec, {"pi-cp1": f}) if x.check == "dns"]

    assert dns("/etc/resolv.conf", ["192.168.10.1"]) == [("ok", "/etc/resolv.conf: 192.168.10.1")]
    [(severity, detail)] = dns("/etc/resolv.conf", [])
    assert severity == "error" and "names no nameserver" in detail and "CoreDNS exits" in detail
    [(severity, detail)] = dns("/etc/resolv.conf", ["127.0.0.1", "::1"])
    assert severity == "warning" and "loop" in detail
    assert dns("/etc/resolv.conf", ["127.0.0.1", "192.168.10.1"])[0][0] == "ok"  # one real resolver is enough
    assert dns(None, None) == []  # an older probe, or a cut output: unknown, no finding
