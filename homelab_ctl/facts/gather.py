"""Connect to every node in parallel and run the probe once per host -> HostFacts | Unreachable.

One connection per host (kept open in a Session for later steps), bounded concurrency: a thread
pool, since paramiko is blocking and the work is mostly waiting on the network.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from types import TracebackType

from homelab_ctl.facts import probe
from homelab_ctl.facts.knownhosts import KnownHosts
from homelab_ctl.facts.models import HostFacts, HostKey, Unreachable
from homelab_ctl.facts.ssh import CONNECT_TIMEOUT, ConnectError, Connection, Target, connect, targets
from homelab_ctl.spec import Loaded

log = logging.getLogger(__name__)

MAX_PARALLEL = 16
PROBE_TIMEOUT = 60.0

Result = HostFacts | Unreachable
OnResult = Callable[[Result], None]


def facts_from(target: Target, host_key: HostKey, output: probe.RunOutput) -> HostFacts:
    """HostFacts of one probe run (pure: output and timings in, facts out)."""
    parsed = probe.parse(output.stdout.decode("utf-8", errors="replace"))
    offset = uncertainty = None
    if parsed.remote_clock is not None and output.clock_at is not None:
        # The remote clock was read between sending the command and the arrival of its line:
        # compare it with the midpoint; the error is at most half that window.
        midpoint = (output.sent_at + output.clock_at) / 2
        offset = round(parsed.remote_clock - midpoint, 3)
        uncertainty = round((output.clock_at - output.sent_at) / 2, 3)
    interfaces = parsed.interfaces or []
    facts = HostFacts(
        node=target.node, target=str(target), host_key=host_key, user=parsed.user or target.user,
        sudo=parsed.sudo, hostname=parsed.hostname, os_id=parsed.os_id, os_version_id=parsed.os_version_id,
        os_pretty_name=parsed.os_pretty_name, machine=parsed.machine, arch=parsed.arch, kernel=parsed.kernel,
        cpus=parsed.cpus, memory_mb=parsed.memory_mb, swap_mb=parsed.swap_mb, var_free_mb=parsed.var_free_mb,
        cgroup_version=parsed.cgroup_version, product_uuid=parsed.product_uuid, machine_id=parsed.machine_id,
        interfaces=interfaces, default_route_interface=parsed.default_route_interface, address=target.address,
        clock_offset_s=offset, clock_uncertainty_s=uncertainty or 0.0, ports_known=parsed.ports_known,
        listeners=[x for x in parsed.listeners or [] if x.port in probe.INTERESTING_PORTS],
        modules=parsed.modules or {}, sysctls=parsed.sysctls or {}, kvm=parsed.kvm, virt_flag=parsed.virt_flag,
        versions=parsed.versions or {}, kubelet_conf=parsed.kubelet_conf, admin_conf=parsed.admin_conf,
        control_plane_complete=parsed.control_plane_complete, drift=parsed.drift or {},
        resolv_conf=parsed.resolv_conf, nameservers=parsed.nameservers,
        probe_seconds=round(output.seconds, 3),
    )
    return facts.model_copy(update={"address_interface": facts.interface_of(target.address)})


def probe_host(conn: Connection, timeout: float = PROBE_TIMEOUT) -> HostFacts:
    started = time.monotonic()
    result = conn.run("/bin/sh -s", stdin=probe.SCRIPT.encode(), timeout=timeout)
    seconds = time.monotonic() - started
    if result.status != 0 or probe.MARK.encode() not in result.stdout:
        tail = result.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise ConnectError("probe", f"the probe script failed on {conn.target} (exit {result.status})"
                                    + (f": {tail[-1]}" if tail else ""),
                           hint="the login shell must run /bin/sh commands", host_key=conn.host_key)
    end = probe.clock_end(result.stdout)
    output = probe.RunOutput(result.stdout, result.sent_at, result.arrived(end) if end is not None else None,
                             seconds)
    return facts_from(conn.target, conn.host_key, output)


class Session:
    """Connections to every node of a spec, opened in parallel and closed together.

        with Session(loaded) as session:
            results = session.gather()           # {node: HostFacts | Unreachable}
            session.connections["cp1"].run(...)  # later steps reuse the same connection
    """

    def __init__(self, loaded: Loaded | None = None, *, accept_new_host_keys: bool = False,
                 connect_timeout: float = CONNECT_TIMEOUT, max_parallel: int = MAX_PARALLEL,
                 target_list: list[Target] | None = None) -> None:
        if target_list is None:
            if loaded is None:
                raise ValueError("Session needs a loaded spec or a target list")
            target_list = targets(loaded)
        self.targets = target_list
        self.accept_new = accept_new_host_keys
        self.connect_timeout = connect_timeout
        self.max_parallel = max(1, max_parallel)
        self.connections: dict[str, Connection] = {}
        self._known: dict[Path, KnownHosts] = {}

    def __enter__(self) -> Session:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        for conn in self.connections.values():
            conn.close()
        self.connections.clear()

    def _known_hosts(self, path: Path) -> KnownHosts:
        # One reader per file, shared by the threads (appends go through its lock).
        if path not in self._known:
            self._known[path] = KnownHosts(path)
        return self._known[path]

    def _one(self, target: Target) -> Result:
        started = time.monotonic()
        try:
            conn = self.connections.get(target.node)
            if conn is None:
                conn = connect(target, self._known_hosts(target.known_hosts), self.accept_new,
                               self.connect_timeout)
                self.connections[target.node] = conn
            facts = probe_host(conn)
            log.debug("%s: probed %s in %.2f s", target.node, target, time.monotonic() - started)
            return facts
        except ConnectError as exc:
            log.info("%s: %s unreachable (%s): %s", target.node, target, exc.reason, exc.message)
            return Unreachable(node=target.node, target=str(target), reason=exc.reason, message=exc.message,
                               hint=exc.hint, host_key=exc.host_key)
        except Exception as exc:  # a bug or an output nobody foresaw: that host fails, the others go on
            log.exception("%s: probing %s failed", target.node, target)
            return Unreachable(node=target.node, target=str(target), reason="probe",
                               message=f"probing {target} failed: {type(exc).__name__}: {exc}",
                               hint="a homelab-ctl bug: run with --debug and see the log file")

    def gather(self, on_result: OnResult | None = None) -> dict[str, Result]:
        """Probe every node (in parallel); results in spec order; on_result is called as each ends."""
        for t in self.targets:  # read every known_hosts file before the threads start
            self._known_hosts(t.known_hosts)
        results: dict[str, Result] = {}
        workers = min(self.max_parallel, len(self.targets)) or 1
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="facts") as pool:
            futures = {pool.submit(self._one, t): t for t in self.targets}
            for future in as_completed(futures):
                result = future.result()
                results[result.node] = result
                if on_result is not None:
                    on_result(result)
        return {t.node: results[t.node] for t in self.targets}

    def recorded_host_keys(self) -> list[str]:
        """Nodes whose host key was new and has just been added to known_hosts."""
        return [n for n, c in self.connections.items() if c.recorded_host_key]


def gather(loaded: Loaded, *, accept_new_host_keys: bool = False,
           on_result: OnResult | None = None) -> dict[str, Result]:
    """Facts of every node of the spec (connections closed afterwards)."""
    with Session(loaded, accept_new_host_keys=accept_new_host_keys) as session:
        return session.gather(on_result)
