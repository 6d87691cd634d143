"""SSH to the nodes with paramiko: where to connect, host key verification, classified failures.

paramiko is imported inside functions (a slow import; `homelab-ctl --help` must stay fast).
Messages never contain key material or passwords: they name files, users and addresses only.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from homelab_ctl.facts.knownhosts import ALGORITHMS, Check, KnownHosts, fingerprint, host_pattern
from homelab_ctl.facts.models import HostKey, Reason
from homelab_ctl.render.paths import resolve
from homelab_ctl.spec import Loaded, Node

if TYPE_CHECKING:
    import paramiko

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Target:
    """Where and how to reach one node: per-node ssh overrides, else spec.ssh, else node.address."""

    node: str
    address: str  # the node's cluster address (spec)
    host: str
    port: int
    user: str
    key_file: Path | None  # None: ssh-agent and ~/.ssh/id_*
    known_hosts: Path

    @property
    def known_name(self) -> str:
        return host_pattern(self.host, self.port)

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def _path(value: str | None, base: Path) -> Path | None:
    resolved = resolve(value, base)
    return Path(os.path.expanduser(resolved)) if resolved else None


def target(loaded: Loaded, node: Node) -> Target:
    spec, base = loaded.cluster.spec.ssh, loaded.base_dir
    over = node.ssh
    key = over.private_key_file if over and over.private_key_file else spec.private_key_file
    known = over.known_hosts_file if over and over.known_hosts_file else spec.known_hosts_file
    known_path = _path(known, base)
    assert known_path is not None  # spec.ssh.knownHostsFile has a default
    return Target(
        node=node.name,
        address=node.address,
        host=over.host if over and over.host else node.address,
        port=over.port if over and over.port else spec.port,
        user=over.user if over and over.user else spec.user,
        key_file=_path(key, base),
        known_hosts=known_path,
    )


def targets(loaded: Loaded) -> list[Target]:
    return [target(loaded, n) for n in loaded.cluster.spec.nodes]


class ConnectError(Exception):
    """Why a node could not be reached; message and hint are safe to print."""

    def __init__(self, reason: Reason, message: str, hint: str | None = None,
                 host_key: HostKey | None = None) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message
        self.hint = hint
        self.host_key = host_key


@dataclass
class RunResult:
    status: int
    stdout: bytes
    stderr: bytes
    sent_at: float  # time.time() just before the command was sent
    arrivals: list[tuple[int, float]] = field(default_factory=list)  # (stdout length, time.time())

    def arrived(self, offset: int) -> float:
        """When stdout byte `offset` had arrived at the controller."""
        for end, at in self.arrivals:
            if end > offset:
                return at
        return self.arrivals[-1][1] if self.arrivals else self.sent_at


class Connection:
    """One authenticated SSH connection to a node, reused for every command run on it."""

    def __init__(self, target: Target, client: paramiko.SSHClient, host_key: HostKey, recorded: bool) -> None:
        self.target = target
        self.client = client
        self.host_key = host_key
        self.recorded_host_key = recorded  # True: the key was new and was added to known_hosts

    def run(self, command: str, stdin: bytes | None = None, timeout: float = 60.0) -> RunResult:
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise ConnectError("ssh", f"the connection to {self.target} was closed")
        chan = transport.open_session(timeout=timeout)
        try:
            chan.settimeout(timeout)
            sent = time.time()
            chan.exec_command(command)
            if stdin is not None:
                chan.sendall(stdin)
                chan.shutdown_write()
            out = bytearray()
            arrivals: list[tuple[int, float]] = []
            while True:
                data = chan.recv(65536)
                if not data:
                    break
                out += data
                arrivals.append((len(out), time.time()))
            status = chan.recv_exit_status()  # sent after all output: stderr is complete now
            err = bytearray()
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            return RunResult(status, bytes(out), bytes(err), sent, arrivals)
        except TimeoutError:
            raise ConnectError("timeout", f"{command.split()[0]} on {self.target} did not finish within "
                                          f"{timeout:.0f} s") from None
        finally:
            chan.close()

    def close(self) -> None:
        self.client.close()


class _Rejected(Exception):
    def __init__(self, check: Check, key: HostKey) -> None:
        super().__init__(check.verdict)
        self.check = check
        self.key = key


def _policy(target: Target, known: KnownHosts, accept_new: bool, state: dict[str, Any]) -> Any:
    import paramiko

    class Verify(paramiko.MissingHostKeyPolicy):
        """Called for every connection (the client itself is given no host keys): the check is ours."""

        def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
            blob = key.asbytes()
            seen = HostKey(type=key.get_name(), sha256=fingerprint(blob))
            state["key"] = seen
            check = known.check(target.known_name, key.get_name(), blob)
            if check.verdict == "ok":
                return
            if check.verdict == "unknown" and accept_new:
                known.add(target.known_name, key.get_name(), blob)
                state["recorded"] = True
                log.info("%s: recorded %s host key %s in %s", target.node, seen.type, seen.sha256,
                         target.known_hosts)
                return
            raise _Rejected(check, seen)

    return Verify()


def _transport_factory(known_types: list[str]) -> Any:
    import paramiko

    def factory(sock: socket.socket, disabled_algorithms: dict[str, list[str]] | None = None) -> paramiko.Transport:
        transport = paramiko.Transport(sock, disabled_algorithms=disabled_algorithms)
        # Like OpenSSH: ask first for the key types already known for this host, so that a host
        # with several keys presents the recorded one (otherwise it would look "changed").
        options = transport.get_security_options()
        available = list(options.key_types)
        first = [a for t in known_types for a in ALGORITHMS.get(t, ()) if a in available]
        options.key_types = tuple(dict.fromkeys(first + available))
        return transport

    return factory


def _load_key(target: Target) -> paramiko.PKey | None:
    import paramiko

    path = target.key_file
    if path is None:
        return None
    what = f"private key {path} (node {target.node})"
    if not path.exists():
        raise ConnectError("auth", f"{what} does not exist", hint="check ssh.privateKeyFile in the spec")
    try:
        return paramiko.PKey.from_path(path)
    except paramiko.PasswordRequiredException:
        raise ConnectError("auth", f"{what} is protected by a passphrase",
                           hint="load it into ssh-agent (ssh-add) and leave privateKeyFile unset") from None
    except (paramiko.SSHException, ValueError, OSError) as exc:
        log.debug("%s: cannot load %s: %s", target.node, path, type(exc).__name__)
        raise ConnectError("auth", f"{what} is not a private key homelab-ctl can read",
                           hint="use an OpenSSH ed25519, ECDSA or RSA private key") from None


def connect(target: Target, known: KnownHosts, accept_new: bool = False,
            timeout: float = CONNECT_TIMEOUT) -> Connection:
    """Connect, verify the host key against known_hosts, authenticate; ConnectError on failure."""
    import paramiko

    pkey = _load_key(target)
    sock = _tcp(target, timeout)
    client = paramiko.SSHClient()
    state: dict[str, Any] = {}
    client.set_missing_host_key_policy(_policy(target, known, accept_new, state))
    try:
        client.connect(
            target.host, port=target.port, username=target.user, pkey=pkey, sock=sock,
            # An explicit key is the only one tried (like IdentitiesOnly): predictable, and a
            # wrong key is reported instead of silently falling back to the agent.
            allow_agent=pkey is None, look_for_keys=pkey is None,
            timeout=timeout, banner_timeout=timeout, auth_timeout=timeout, channel_timeout=timeout,
            transport_factory=_transport_factory(known.known_types(target.known_name)),
        )
    except _Rejected as exc:
        client.close()
        raise _host_key_error(target, exc) from None
    except paramiko.PasswordRequiredException:
        client.close()
        raise ConnectError("auth", f"{target}: the private key needs a passphrase",
                           hint="load it into ssh-agent (ssh-add)", host_key=state.get("key")) from None
    except paramiko.BadAuthenticationType as exc:
        client.close()
        allowed = ", ".join(exc.allowed_types) or "none"
        raise ConnectError("auth", f"authentication as {target.user} on {target.host}:{target.port} failed: "
                                   f"the server accepts only {allowed}",
                           hint="homelab-ctl uses SSH keys: enable PubkeyAuthentication on the host",
                           host_key=state.get("key")) from None
    except paramiko.AuthenticationException:
        client.close()
        raise _auth_error(target, state.get("key")) from None
    except (paramiko.SSHException, EOFError, OSError) as exc:
        client.close()
        raise _ssh_error(target, exc, timeout, state.get("key")) from None
    except BaseException:
        client.close()
        raise
    return Connection(target, client, state["key"], bool(state.get("recorded")))


def _tcp(target: Target, timeout: float) -> socket.socket:
    where = f"{target.host}:{target.port}"
    try:
        return socket.create_connection((target.host, target.port), timeout=timeout)
    except socket.gaierror:
        raise ConnectError("dns", f"cannot resolve {target.host}",
                           hint="use an IP address or fix name resolution on this machine") from None
    except ConnectionRefusedError:
        raise ConnectError("refused", f"connection refused by {where}",
                           hint="is the machine up and sshd running on that port?") from None
    except TimeoutError:
        raise ConnectError("timeout", f"no answer from {where} within {timeout:.0f} s",
                           hint="is the machine switched on, the address right, and port "
                                f"{target.port} open in its firewall?") from None
    except OSError as exc:
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
            raise ConnectError("unreachable", f"no route to {where} ({os.strerror(exc.errno)})",
                               hint="check the address and the network between this machine and the node") from None
        raise ConnectError("unreachable", f"cannot connect to {where}: {exc.strerror or exc}") from None


def _ssh_error(target: Target, exc: BaseException, timeout: float, key: HostKey | None) -> ConnectError:
    where = f"{target.host}:{target.port}"
    text = str(exc)
    if isinstance(exc, TimeoutError) or "timeout" in text.lower() or "banner" in text.lower():
        return ConnectError("timeout", f"{where} accepted the connection but no SSH server answered within "
                                       f"{timeout:.0f} s", hint="is sshd (and not another service) on that port?",
                            host_key=key)
    if isinstance(exc, EOFError | ConnectionResetError) or not text:
        return ConnectError("ssh", f"{where} closed the connection during the SSH handshake",
                            hint="sshd may be starting or refusing connections (MaxStartups, firewall)",
                            host_key=key)
    return ConnectError("ssh", f"SSH handshake with {where} failed: {text}", host_key=key)


def _auth_error(target: Target, key: HostKey | None) -> ConnectError:
    where = f"{target.user}@{target.host}:{target.port}"
    if target.key_file is not None:
        pub = f"{target.key_file}.pub"
        return ConnectError(
            "auth", f"authentication as {where} failed: the key {target.key_file} was not accepted",
            hint=f"authorize it on the node: ssh-copy-id -i {pub} -p {target.port} {target.user}@{target.host}",
            host_key=key)
    return ConnectError(
        "auth", f"authentication as {where} failed: no key from ssh-agent or ~/.ssh was accepted",
        hint="set ssh.privateKeyFile in the spec, or authorize your key with ssh-copy-id", host_key=key)


def _host_key_error(target: Target, exc: _Rejected) -> ConnectError:
    where, file = target.known_name, target.known_hosts
    seen = f"{exc.key.type} {exc.key.sha256}"
    remove = f"ssh-keygen -R '{where}' -f {file}"
    if exc.check.verdict == "unknown":
        return ConnectError(
            "host-key-unknown",
            f"{target.node}: the host key of {where} is not in {file} (it presents {seen})",
            hint="check the fingerprint on the node (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), "
                 "then re-run with --accept-new-host-keys to record it",
            host_key=exc.key)
    if exc.check.verdict == "revoked":
        return ConnectError("host-key-changed", f"{target.node}: the host key of {where} ({seen}) is marked "
                                                f"@revoked in {file}", hint="generate new host keys on the node",
                            host_key=exc.key)
    # Show the known key of the presented type (the one that differs), else every known one.
    shown = [e for e in exc.check.entries if e.key_type == exc.key.type] or exc.check.entries
    lines = ", ".join(str(e.line) for e in shown)
    known = ", ".join(f"{e.key_type} {e.fingerprint}" for e in shown)
    return ConnectError(
        "host-key-changed",
        f"{target.node}: the host key of {where} has CHANGED: {file} line{'s' if len(shown) > 1 else ''} "
        f"{lines} has {known}, the host now presents {seen}. The machine may have been reinstalled or "
        "replaced -- or someone is intercepting the connection",
        hint=f"if {target.node} was reinstalled or replaced on purpose: {remove}, "
             "then re-run with --accept-new-host-keys",
        host_key=exc.key)
