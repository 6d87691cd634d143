"""Findings and the report of a preflight run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from homelab_ctl.errors import ConnectionFailed, ExitCode, PreflightFailed
from homelab_ctl.facts.models import HostFacts, Unreachable

Severity = Literal["error", "warning", "ok"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "ok": 2}


@dataclass(frozen=True)
class Finding:
    host: str  # node name
    check: str  # stable id, e.g. "identity.duplicate-machine-id"
    severity: Severity
    detail: str
    fix: str | None = None

    @property
    def is_identity(self) -> bool:
        return self.check.startswith("identity.")

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "check": self.check, "severity": self.severity, "detail": self.detail,
                "fix": self.fix}


@dataclass
class Report:
    findings: list[Finding]
    results: dict[str, HostFacts | Unreachable]
    seconds: float = 0.0
    recorded: list[str] = field(default_factory=list)  # nodes whose identity was (re)recorded
    host_keys_recorded: list[str] = field(default_factory=list)  # new keys added to known_hosts

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def facts(self) -> dict[str, HostFacts]:
        return {n: r for n, r in self.results.items() if isinstance(r, HostFacts)}

    @property
    def unreachable(self) -> dict[str, Unreachable]:
        return {n: r for n, r in self.results.items() if isinstance(r, Unreachable)}

    @property
    def exit_code(self) -> ExitCode:
        """OK; CONNECTION when the only errors are unreachable hosts (nothing else is known to be
        wrong: retry when they are up); PREFLIGHT for any other error."""
        if not self.errors:
            return ExitCode.OK
        if all(f.check == "ssh" for f in self.errors):
            return ExitCode.CONNECTION
        return ExitCode.PREFLIGHT

    def for_host(self, host: str) -> list[Finding]:
        return sorted((f for f in self.findings if f.host == host), key=lambda f: SEVERITY_ORDER[f.severity])

    def raise_for_errors(self) -> None:
        """For `up`: stop with the matching exit code when preflight found errors."""
        errors = self.errors
        if not errors:
            return
        hosts = sorted({f.host for f in errors})
        first = errors[0]
        message = (f"preflight found {len(errors)} error{'s' if len(errors) != 1 else ''} on "
                   f"{', '.join(hosts)}; first: {first.host}: {first.detail}")
        hint = first.fix or "run homelab-ctl preflight for the full list"
        if self.exit_code == ExitCode.CONNECTION:
            raise ConnectionFailed(message, hint=hint)
        raise PreflightFailed(message, hint=hint)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "exitCode": int(self.exit_code),
            "seconds": round(self.seconds, 3),
            "counts": {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITY_ORDER},
            "findings": [f.to_dict() for f in self.findings],
            "hosts": {n: summary(r) for n, r in self.results.items()},
            "identityRecorded": self.recorded,
            "hostKeysRecorded": self.host_keys_recorded,
        }


def summary(result: HostFacts | Unreachable) -> dict[str, Any]:
    """The facts a script wants per host (the full HostFacts are in the Python API)."""
    if isinstance(result, Unreachable):
        return {"reachable": False, "target": result.target, "reason": result.reason, "message": result.message}
    f = result
    return {
        "reachable": True, "target": f.target, "hostKey": f"{f.host_key.type} {f.host_key.sha256}",
        "hostname": f.hostname, "os": f.os_pretty_name or f"{f.os_id} {f.os_version_id}", "arch": f.arch,
        "kernel": f.kernel, "cpus": f.cpus, "memoryMb": f.memory_mb, "swapMb": f.swap_mb,
        "varFreeMb": f.var_free_mb, "cgroupVersion": f.cgroup_version, "productUuid": f.product_uuid,
        "machineId": f.machine_id, "macs": f.identity_macs, "defaultRouteInterface": f.default_route_interface,
        "addressInterface": f.address_interface, "clockOffsetS": f.clock_offset_s, "kvm": f.kvm,
        "sudo": f.sudo, "versions": f.versions, "member": f.is_member, "probeSeconds": f.probe_seconds,
    }
