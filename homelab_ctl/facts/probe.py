"""The probe: ONE POSIX sh script run per host (one round trip) printing sections, parsed here.

The script is read-only and tolerates missing tools (minimal images have no ss, no ip, no nproc):
every section prints what it can and the parser treats anything missing as unknown.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from homelab_ctl.facts.models import Interface, Listener, ModuleState, SudoState

MARK = "@@homelab-ctl@@"
MODULES = ("overlay", "br_netfilter", "vxlan")
SYSCTLS = (
    "net.ipv4.ip_forward",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
)
TOOLS = ("containerd", "kubelet", "kubeadm")
# Written by the kubeadm roles once kubeadm init or a control plane join succeeded.
CONTROL_PLANE_MARKER = "/etc/kubernetes/.homelab-control-plane-complete"
# Ports kubeadm, etcd, the kubelet and the CNIs bind: listeners on others are not kept in the facts.
INTERESTING_PORTS = frozenset({6443, 2379, 2380, 10250, 10256, 10257, 10259, 8472, 51820, 51821})

# Kept as a string (not a package file) so an editable install and a wheel behave the same.
SCRIPT = r"""
export LC_ALL=C
PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin"
s() { printf '\n%s %s\n' '@@homelab-ctl@@' "$1"; }
# r FILE: print its first line with the read builtin (no fork per file: adds up on small hosts).
# /proc/sys integers end at EOF when read byte by byte (dash): keep a line without its newline.
r() { _l=""; if [ -r "$1" ]; then IFS= read -r _l < "$1" || [ -n "$_l" ] && printf '%s\n' "$_l"; fi; }
# The clock first: the controller timestamps this line when it arrives (see gather.py).
s clock; date +%s.%N
uid=$(id -u)
s user; id -un 2>/dev/null || echo "$uid"
SUDO=""
s sudo
if [ "$uid" = 0 ]; then echo root
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then echo ok; SUDO="sudo -n"
else echo missing
fi
s os; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null
s uname; uname -m; uname -r
s hostname; r /proc/sys/kernel/hostname
s cpus; nproc 2>/dev/null || grep -c '^processor' /proc/cpuinfo 2>/dev/null
s meminfo
while read -r k v _; do case $k in MemTotal:|SwapTotal:) echo "$k $v kB" ;; esac; done < /proc/meminfo
s swaps; cat /proc/swaps 2>/dev/null
s df_var; df -Pk /var 2>/dev/null | tail -n 1
s cgroup
# cgroup2fs: the unified hierarchy (v2); a tmpfs with controllers below it: v1 or hybrid.
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then echo cgroup2fs
elif [ -d /sys/fs/cgroup ]; then echo tmpfs
fi
# 0400 root: needs root or sudo; absent in containers and on some boards.
s product_uuid
if [ -z "$SUDO" ]; then r /sys/class/dmi/id/product_uuid; else $SUDO cat /sys/class/dmi/id/product_uuid 2>/dev/null; fi
s machine_id; r /etc/machine-id
s links
for d in /sys/class/net/*; do
  [ -e "$d" ] || continue
  n=${d##*/}
  if [ -e "/sys/devices/virtual/net/$n" ]; then v=virtual; else v=physical; fi
  m=$(r "$d/address"); printf '%s %s %s\n' "$n" "${m:--}" "$v"
done
s addrs; ip -o addr show 2>/dev/null
s route; ip -o route show default 2>/dev/null; ip -o -6 route show default 2>/dev/null
s proc_route; cat /proc/net/route 2>/dev/null
s listen
if command -v ss >/dev/null 2>&1; then
  $SUDO ss -H -lntup 2>/dev/null || ss -H -lntu 2>/dev/null || ss -lntu 2>/dev/null
else
  echo no-ss
  for f in tcp tcp6 udp udp6; do echo "proc $f"; cat "/proc/net/$f" 2>/dev/null; done
fi
s modules
kr=$(uname -r)
for m in overlay br_netfilter vxlan; do
  if [ -e "/sys/module/$m/initstate" ]; then st=loaded
  elif [ -d "/sys/module/$m" ]; then st=builtin
  elif grep -qs "/$m\.ko" "/lib/modules/$kr/modules.builtin"; then st=builtin
  elif grep -qs "/$m\.ko" "/lib/modules/$kr/modules.dep"; then st=available
  elif [ -d "/lib/modules/$kr" ]; then st=missing
  else st=unknown
  fi
  # Built-in modules without parameters have no /sys/module entry: look at what they provide.
  if [ "$st" = unknown ] || [ "$st" = missing ]; then
    case $m in
      overlay) grep -qw overlay /proc/filesystems 2>/dev/null && st=builtin ;;
      br_netfilter) [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] && st=builtin ;;
    esac
  fi
  echo "$m $st"
done
s sysctl
for k in net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables net/bridge/bridge-nf-call-ip6tables; do
  v=$(r "/proc/sys/$k"); printf '%s %s\n' "$k" "${v:--}"
done
# The resolver file the kubelet gives pods (kubeadm picks systemd-resolved's when that runs):
# CoreDNS forwards every name outside the cluster to its nameservers.
s resolv
f=/etc/resolv.conf
[ "$(systemctl is-active systemd-resolved 2>/dev/null)" = active ] && f=/run/systemd/resolve/resolv.conf
if [ -r "$f" ]; then
  echo "file $f"
  while read -r k v _ || [ -n "$k" ]; do [ "$k" = nameserver ] && echo "nameserver $v"; done < "$f"
else echo "missing $f"
fi
s kvm
if [ -c /dev/kvm ]; then echo present; else echo absent; fi
grep -m 1 -o -w -E 'vmx|svm' /proc/cpuinfo 2>/dev/null | head -n 1
s versions
for t in containerd kubelet kubeadm; do
  if command -v "$t" >/dev/null 2>&1; then
    case $t in
      kubeadm) v=$(kubeadm version -o short 2>/dev/null) ;;
      *) v=$("$t" --version 2>/dev/null | head -n 1) ;;
    esac
    printf '%s %s\n' "$t" "${v:-?}"
  else printf '%s -\n' "$t"
  fi
done
s member
for f in /etc/kubernetes/kubelet.conf /etc/kubernetes/admin.conf /etc/kubernetes/.homelab-control-plane-complete
do [ -e "$f" ] && echo "$f"; done
# What the roles manage, for `up` to tell a converged host from a drifted one (plan/drift.py).
s drift
$SUDO sh -c '
for f in /etc/containerd/config.toml /etc/crictl.yaml /etc/systemd/system/containerd.service \
         /etc/sysctl.d/99-kubernetes.conf /etc/modules-load.d/kubernetes.conf /etc/hosts /etc/hostname \
         /etc/fstab /etc/chrony/sources.d/homelab-ctl.sources /etc/systemd/timesyncd.conf.d/homelab-ctl.conf \
         /etc/kubernetes/encryption/config.yaml /var/lib/kubelet/config.yaml /etc/kubernetes/manifests/*.yaml; do
  case $f in *"*"*) continue ;; esac
  if [ -e "$f" ]; then set -- $(sha256sum "$f"); echo "file:$f $1"; else echo "file:$f -"; fi
done' 2>/dev/null
if [ -r /etc/sysctl.d/99-kubernetes.conf ]; then
  while IFS='= ' read -r k v; do
    case $k in ''|'#'*|';'*) continue ;; esac
    v=$(r "/proc/sys/$(echo "$k" | tr . /)"); printf 'sysctl:%s %s\n' "$k" "${v:--}"
  done < /etc/sysctl.d/99-kubernetes.conf
fi
for u in containerd kubelet chrony systemd-timesyncd; do
  printf 'service:%s %s %s\n' "$u" "$(systemctl is-active "$u" 2>/dev/null)" "$(systemctl is-enabled "$u" 2>/dev/null)"
done
dpkg-query -W -f='package:${Package} ${Version} ${db:Status-Want} ${db:Status-Status}\n' \
  kubeadm kubelet kubectl kubernetes-cni cri-tools containerd containerd.io runc conntrack socat ipset \
  iptables ethtool 2>/dev/null
printf 'swap:active %s\n' "$(($(wc -l < /proc/swaps 2>/dev/null || echo 1) - 1))"
if command -v ctr >/dev/null 2>&1; then
  printf 'images:pinned %s\n' "$($SUDO ctr -n k8s.io images ls 2>/dev/null \
    | awk 'NR > 1 && /io.cri-containerd.pinned=pinned/ {print $1, $3}' | sort | sha256sum | cut -c1-16)"
fi
s end
"""

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
         "armv6l": "arm", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64", "i686": "386"}
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_VERSION = re.compile(r"v?(\d+\.\d+\.\d+[^\s,]*)")
_MODULE_STATES: set[str] = {"loaded", "builtin", "available", "missing", "unknown"}


def sections(text: str) -> dict[str, list[str]]:
    """Split the probe output into {section: lines} (blank lines dropped)."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if line.startswith(MARK + " "):
            current = out.setdefault(line[len(MARK) + 1:].strip(), [])
        elif current is not None and line.strip():
            current.append(line)
    return out


def _first(lines: list[str] | None) -> str | None:
    return lines[0].strip() if lines else None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class RunOutput:
    stdout: bytes
    sent_at: float  # controller time.time() when the script was sent
    clock_at: float | None  # controller time.time() when the clock line had arrived
    seconds: float  # the whole run


def clock_end(stdout: bytes) -> int | None:
    """Offset of the end of the clock value line in the raw output."""
    head = f"{MARK} clock\n".encode()
    start = stdout.find(head)
    if start < 0:
        return None
    end = stdout.find(b"\n", start + len(head))
    return end if end >= 0 else None


@dataclass
class Parsed:
    """Fields of HostFacts that come from the script (the connection supplies the rest)."""

    user: str | None = None
    sudo: SudoState = "missing"
    remote_clock: float | None = None
    hostname: str | None = None
    os_id: str | None = None
    os_version_id: str | None = None
    os_pretty_name: str | None = None
    machine: str | None = None
    arch: str | None = None
    kernel: str | None = None
    cpus: int | None = None
    memory_mb: int | None = None
    swap_mb: int | None = None
    var_free_mb: int | None = None
    cgroup_version: int | None = None
    product_uuid: str | None = None
    machine_id: str | None = None
    interfaces: list[Interface] | None = None
    default_route_interface: str | None = None
    ports_known: bool = False
    listeners: list[Listener] | None = None
    modules: dict[str, ModuleState] | None = None
    sysctls: dict[str, str | None] | None = None
    kvm: bool = False
    virt_flag: str | None = None
    versions: dict[str, str | None] | None = None
    kubelet_conf: bool = False
    admin_conf: bool = False
    control_plane_complete: bool = False
    drift: dict[str, str] | None = None
    resolv_conf: str | None = None
    nameservers: list[str] | None = None  # None: unknown (no resolv section)
    complete: bool = False  # the script reached its end


def parse(text: str) -> Parsed:
    sec = sections(text)
    p = Parsed(complete="end" in sec)
    p.remote_clock = parse_clock(_first(sec.get("clock")))
    p.user = _first(sec.get("user"))
    sudo = _first(sec.get("sudo"))
    p.sudo = sudo if sudo in ("root", "ok") else "missing"  # type: ignore[assignment]
    osr = parse_os_release(sec.get("os", []))
    p.os_id, p.os_version_id, p.os_pretty_name = osr.get("ID"), osr.get("VERSION_ID"), osr.get("PRETTY_NAME")
    uname = sec.get("uname", [])
    p.machine = uname[0].strip() if uname else None
    p.kernel = uname[1].strip() if len(uname) > 1 else None
    p.arch = _ARCH.get(p.machine or "", p.machine)
    p.hostname = _first(sec.get("hostname"))
    p.cpus = _int(_first(sec.get("cpus")))
    mem = parse_meminfo(sec.get("meminfo", []))
    p.memory_mb = mem.get("MemTotal")
    p.swap_mb = parse_swaps(sec.get("swaps", []), mem.get("SwapTotal"))
    p.var_free_mb = parse_df(_first(sec.get("df_var")))
    fs = _first(sec.get("cgroup"))
    p.cgroup_version = 2 if fs == "cgroup2fs" else 1 if fs == "tmpfs" else None
    uuid = (_first(sec.get("product_uuid")) or "").lower()
    # Boards with unset DMI data report all zeros or all f's: no identity at all.
    p.product_uuid = uuid if _UUID.match(uuid) and len(set(uuid.replace("-", ""))) > 1 else None
    mid = (_first(sec.get("machine_id")) or "").lower()
    p.machine_id = mid if re.fullmatch(r"[0-9a-f]{32}", mid) else None
    p.interfaces = parse_interfaces(sec.get("links", []), sec.get("addrs", []))
    p.default_route_interface = parse_default_route(sec.get("route", []), sec.get("proc_route", []))
    p.ports_known, p.listeners = parse_listeners(sec.get("listen", []))
    p.modules = parse_modules(sec.get("modules", []))
    pairs = (_pair(line) for line in sec.get("sysctl", []))
    p.sysctls = {k.replace("/", "."): v for k, v in pairs if k.replace("/", ".") in SYSCTLS}
    kvm = sec.get("kvm", [])
    p.kvm = bool(kvm) and kvm[0].strip() == "present"
    p.virt_flag = next((x.strip() for x in kvm[1:] if x.strip() in ("vmx", "svm")), None)
    p.versions = parse_versions(sec.get("versions", []))
    member = {line.strip() for line in sec.get("member", [])}
    p.kubelet_conf = "/etc/kubernetes/kubelet.conf" in member
    p.admin_conf = "/etc/kubernetes/admin.conf" in member
    p.control_plane_complete = CONTROL_PLANE_MARKER in member
    p.drift = parse_drift(sec.get("drift", []))
    p.resolv_conf, p.nameservers = parse_resolv(sec.get("resolv"))
    return p


def parse_resolv(lines: list[str] | None) -> tuple[str | None, list[str] | None]:
    """(the file, its nameservers): [] when the file is missing or names none, None when unknown."""
    if not lines:
        return None, None
    kind, _, path = lines[0].strip().partition(" ")
    if kind not in ("file", "missing"):
        return None, None
    servers = [line.split()[1] for line in lines[1:] if line.startswith("nameserver ") and len(line.split()) > 1]
    return path, servers


def _pair(line: str) -> tuple[str, str | None]:
    key, _, value = line.strip().partition(" ")
    value = value.strip()
    return key, None if value in ("", "-") else value


def parse_clock(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        # date without %N support prints "1700000000.N": keep the seconds.
        head = text.split(".", 1)[0]
        return float(head) if head.isdigit() else None


def parse_os_release(lines: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.strip().partition("=")
        if sep and key.isidentifier():
            out[key] = value.strip().strip("'\"")
    return out


def parse_meminfo(lines: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in lines:
        m = re.match(r"^(\w+):\s+(\d+)\s*kB", line.strip())
        if m:
            out[m.group(1)] = int(m.group(2)) // 1024
    return out


def parse_swaps(lines: list[str], swap_total_mb: int | None) -> int | None:
    """Active swap in MB, from /proc/swaps (sizes in KiB); SwapTotal when that is unreadable."""
    if not lines:
        return swap_total_mb
    total = 0
    for line in lines[1:]:  # first line is the header
        parts = line.split()
        if len(parts) >= 3 and parts[2].isdigit():
            total += int(parts[2])
    return total // 1024


def parse_df(line: str | None) -> int | None:
    # POSIX df -Pk: Filesystem 1024-blocks Used Available Capacity Mounted-on
    parts = line.split() if line else []
    if len(parts) >= 6 and parts[3].isdigit():
        return int(parts[3]) // 1024
    return None


def parse_interfaces(links: list[str], addrs: list[str]) -> list[Interface]:
    names: dict[str, tuple[str | None, bool]] = {}
    for line in links:
        parts = line.split()
        if len(parts) >= 3:
            raw = parts[1].lower()
            names[parts[0]] = (raw if _MAC.match(raw) else None, parts[2] == "virtual")
    addresses: dict[str, list[str]] = {}
    for line in addrs:
        # "2: eth0    inet 10.88.0.2/16 brd 10.88.255.255 scope global eth0\       valid_lft ..."
        parts = line.replace("\\", " ").split()
        if len(parts) >= 4 and parts[2] in ("inet", "inet6"):
            name = parts[1].split("@", 1)[0]
            addresses.setdefault(name, []).append(parts[3])
    out: list[Interface] = []
    for name in sorted(set(names) | set(addresses)):
        mac, virtual = names.get(name, (None, False))
        out.append(Interface(name=name, mac=mac, virtual=virtual or name == "lo",
                             addresses=addresses.get(name, [])))
    return out


def parse_default_route(route: list[str], proc_route: list[str]) -> str | None:
    for line in route:
        parts = line.split()
        if "dev" in parts and parts[0] == "default":
            i = parts.index("dev")
            if i + 1 < len(parts):
                return parts[i + 1]
    for line in proc_route[1:]:
        parts = line.split()
        # Iface Destination Gateway Flags ... (hex); destination 0 with mask 0 is the default route
        if len(parts) >= 8 and parts[1] == "00000000" and parts[7] == "00000000":
            return parts[0]
    return None


_PROCESS = re.compile(r'users:\(\("([^"]+)"')


def parse_listeners(lines: list[str]) -> tuple[bool, list[Listener]]:
    """Listening sockets from `ss -H -lntup` or, without ss, from /proc/net/{tcp,udp}[6]."""
    if not lines:
        return False, []
    if lines[0].strip() == "no-ss":
        return _parse_proc_net(lines[1:])
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) < 5 or parts[0] not in ("tcp", "udp"):
            continue  # the header of an ss without -H
        if parts[0] == "tcp" and parts[1] != "LISTEN":
            continue
        local = parts[4]
        addr, _, port = local.rpartition(":")
        if not port.isdigit():
            continue
        m = _PROCESS.search(line)
        out.append(Listener(proto=parts[0], address=addr.strip("[]").split("%", 1)[0], port=int(port),
                            process=m.group(1) if m else None))
    return True, out


def _parse_proc_net(lines: list[str]) -> tuple[bool, list[Listener]]:
    out: list[Listener] = []
    proto: str | None = None
    seen = False
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[0] == "proc":
            proto = "tcp" if parts[1].startswith("tcp") else "udp"
            continue
        if proto is None or len(parts) < 4 or ":" not in parts[1] or parts[0] == "sl":
            continue
        seen = True
        state = parts[3]
        # TCP listeners are state 0A; an unconnected UDP socket is 07 (like ss -lu shows).
        if (proto == "tcp" and state != "0A") or (proto == "udp" and state != "07"):
            continue
        hexaddr, hexport = parts[1].split(":")
        out.append(Listener(proto=proto, address=_proc_addr(hexaddr), port=int(hexport, 16)))
    return seen, out


def _proc_addr(hexaddr: str) -> str:
    raw = bytes.fromhex(hexaddr)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    # /proc/net/tcp6 stores four host-order 32-bit words
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    return str(ipaddress.IPv6Address(words))


def parse_modules(lines: Iterable[str]) -> dict[str, ModuleState]:
    out: dict[str, ModuleState] = {}
    for line in lines:
        name, state = _pair(line)
        if name in MODULES and state in _MODULE_STATES:
            out[name] = state  # type: ignore[assignment]
    return out


def parse_versions(lines: Iterable[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = dict.fromkeys(TOOLS)
    for line in lines:
        name, text = _pair(line)
        if name not in out:
            continue
        if text is None:
            continue
        # "containerd containerd.io 1.7.22 7f7fdf5f..." / "Kubernetes v1.31.1" / "v1.31.1"
        m = _VERSION.search(text.split(" ", 1)[1] if name == "containerd" and " " in text else text)
        out[name] = m.group(1) if m else "unknown"
    return out


def parse_drift(lines: Iterable[str]) -> dict[str, str]:
    """`kind:name value` lines -> {kind:name: value}; a repeated key keeps its first value."""
    out: dict[str, str] = {}
    for line in lines:
        key, _, value = line.strip().partition(" ")
        if ":" in key and key not in out:
            out[key] = " ".join(value.split()) or "-"
    return out
