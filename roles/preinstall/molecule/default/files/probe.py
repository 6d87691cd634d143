"""Read the real state of a lab machine after converge; print it as JSON (run by verify.yml).

One script instead of one task per file: every task costs several podman exec round trips.
Arguments: the node names to resolve.
"""

import json
import os
import subprocess
import sys

SYSCTLS = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables", "net.ipv4.ip_forward")


def read(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        return None


def run(*argv):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    return proc.returncode, proc.stdout.strip()


def sysctls():
    return {name: (read("/proc/sys/" + name.replace(".", "/")) or "").strip() for name in SYSCTLS}


def resolve(name):
    rc, out = run("getent", "ahostsv4", name)
    return out.split()[0] if rc == 0 and out else None


def packages():
    _, out = run("dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n")
    return sorted(line.split()[0] for line in out.splitlines() if line.endswith(" installed"))


def chrony():
    _, out = run("systemctl", "show", "chrony", "--property=ActiveState,UnitFileState,MainPID")
    props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    cmdline = read("/proc/%s/cmdline" % props.get("MainPID", "0")) or ""
    props["argv"] = [arg for arg in cmdline.split("\0") if arg]
    props["tracking_rc"] = run("chronyc", "-n", "tracking")[0]
    return props


state = {
    "hostname": run("hostname")[1],
    "etc_hostname": (read("/etc/hostname") or "").strip(),
    "resolved": {name: resolve(name) for name in sys.argv[1:]},
    "swaps": (read("/proc/swaps") or "").splitlines()[1:],
    "fstab": (read("/etc/fstab") or "").splitlines(),
    "module_evidence": {path: os.path.exists(path) for path in ("/sys/module/overlay", "/proc/sys/net/bridge/bridge-nf-call-iptables")},
    "modules_load": [
        line.strip()
        for line in (read("/etc/modules-load.d/kubernetes.conf") or "").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ],
    "sysctl": sysctls(),
}
state["sysctl_system_rc"] = run("sysctl", "--system")[0]  # apply every sysctl file as at boot
state["sysctl_after_system"] = sysctls()
state["packages"] = packages()
state["chrony"] = chrony()
print(json.dumps(state))
