"""Read the real state of containerd on a lab machine; print it as JSON (run by the verify playbooks).

One script instead of one task per check: every task costs several podman exec round trips.
Needs python >= 3.11 (tomllib) on the machine: Debian 12 has 3.11.
"""

import glob
import json
import os
import shutil
import stat
import subprocess
import tomllib

SOCKET = "/run/containerd/containerd.sock"


def run(*argv):
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return {"rc": 127, "out": "", "err": argv[0] + ": not found"}
    return {"rc": proc.returncode, "out": proc.stdout.strip(), "err": proc.stderr.strip()}


def read(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        return None


def unit():
    props = run("systemctl", "show", "containerd",
                "--property=ActiveState,UnitFileState,LoadState,MainPID,FragmentPath,ExecStart")["out"]
    return dict(line.split("=", 1) for line in props.splitlines() if "=" in line)


def cri_plugin(plugins):
    for line in plugins.splitlines():
        fields = line.split()
        if fields[:2] == ["io.containerd.grpc.v1", "cri"]:
            return fields[-1]
    return None


def hosts_files():
    files = {}
    for path in sorted(glob.glob("/etc/containerd/certs.d/*/hosts.toml")):
        text = read(path) or ""
        files[os.path.basename(os.path.dirname(path))] = {
            "managed": text.startswith("# Managed by homelab-ctl"),
            "toml": tomllib.loads(text),
        }
    return files


def simple_yaml(text):
    """key: value lines (crictl.yaml); PyYAML is not on a minimal machine."""
    return dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in (text or "").splitlines())
        if value and not key.startswith("#")
    )


state = {
    "unit": unit(),
    "socket": os.path.exists(SOCKET) and stat.S_ISSOCK(os.stat(SOCKET).st_mode),
    "version": run("ctr", "--address", SOCKET, "version"),
    "plugins_cri": cri_plugin(run("ctr", "plugins", "ls")["out"]),
    "deprecations": run("ctr", "deprecations", "list"),
    "hosts": hosts_files(),
    "crictl_yaml": simple_yaml(read("/etc/crictl.yaml")),
    "crictl": shutil.which("crictl"),
    "files": {path: os.path.exists(path) for path in ("/etc/containerd/config.toml", "/etc/crictl.yaml")},
    "package": run("dpkg-query", "-W", "-f", "${db:Status-Status}", "containerd")["out"],
}
dump = run("containerd", "config", "dump")
state["config"] = tomllib.loads(dump["out"]) if dump["rc"] == 0 else {"error": dump["err"]}
if state["crictl"]:
    info = run("crictl", "info")
    state["crictl_info"] = json.loads(info["out"]) if info["rc"] == 0 else {"error": info["err"]}
print(json.dumps(state))
