"""Build the binaries of a recipe module with the Go toolchain, cached by what goes into them.

The key covers go.mod, go.sum, packages, flags and `go version`: a second run with the same inputs
builds nothing. Go's own build cache makes a changed flag cheap to rebuild.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from homelab_ctl.errors import HomelabError
from homelab_ctl.mirror.recipes import GO_RECIPES, GoComponent, kubernetes_stamp

Echo = Callable[[str], None]
DONE = ".built"


class BuildError(HomelabError):
    """A build step of the mirror failed; the message names the step and its log."""


def go_version() -> str:
    if shutil.which("go") is None:
        raise BuildError("go not found: the mirror is built from Go modules (install Go >= 1.26)")
    return _run(["go", "version"], Path.cwd()).strip()


def prepare_recipe(component: GoComponent, work: Path, kubernetes: str) -> Path:
    """A copy of the recipe module, its Kubernetes version rewritten when it is not the recipe's.

    Returns the module directory. For another Kubernetes version, the requirement and every
    staging replace move to the matching versions and `go mod tidy` resolves the rest.
    """
    source = GO_RECIPES / component.name
    target = work / "recipes" / component.name
    target.mkdir(parents=True, exist_ok=True)
    for name in ("go.mod", "go.sum"):
        shutil.copyfile(source / name, target / name)
    if component.name == "kubernetes" and f"v{kubernetes.lstrip('v')}" != component.version:
        _retarget_kubernetes(target, kubernetes.lstrip("v"))
    return target


def _retarget_kubernetes(module: Path, version: str) -> None:
    staging = f"v0.{version.split('.', 1)[1]}"
    text = (module / "go.mod").read_text(encoding="utf-8")
    edits = [f"-require=k8s.io/kubernetes@v{version}"]
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[1] == "=>" and parts[0].startswith("k8s.io/"):
            edits.append(f"-replace={parts[0]}={parts[0]}@{staging}")
    _run(["go", "mod", "edit", *edits], module)
    _run(["go", "mod", "tidy"], module, timeout=1800)


def download(module: str, version: str, cwd: Path) -> dict[str, str]:
    """`go mod download -json module@version`: Dir (the unpacked module), Info, Sum, ..."""
    result = json.loads(_run(["go", "mod", "download", "-json", f"{module}@{version}"], cwd, timeout=900))
    return {str(k): str(v) for k, v in result.items()}


def module_time(module: str, version: str, cwd: Path) -> str:
    """The publication time of module@version as the proxy records it (the build date stamped in)."""
    info = download(module, version, cwd).get("Info")
    stamp = json.loads(Path(info).read_text()).get("Time", "") if info else ""
    return str(stamp)[:19] + "Z" if stamp else "1970-01-01T00:00:00Z"


def build(component: GoComponent, module: Path, cache: Path, echo: Echo, *,
          kubernetes: str | None = None) -> Path:
    """Build component's binaries into a directory under cache named by their key; returns it."""
    version = f"v{kubernetes.lstrip('v')}" if kubernetes and component.name == "kubernetes" else component.version
    ldflags = ["-s", "-w"]
    if component.name == "kubernetes":
        ldflags += kubernetes_stamp(version, module_time(component.module, version, module))
    else:
        ldflags += component.stamp()
    if component.static:
        ldflags += ["-linkmode", "external", "-extldflags", "-static"]
    env = {"CGO_ENABLED": "1" if component.cgo else "0", "GOFLAGS": "-mod=readonly -trimpath"}
    if component.nosumdb:
        env["GONOSUMDB"] = ",".join(component.nosumdb)
    key = _key(component, module, ldflags, env)
    out = cache / f"{component.name}-{'-'.join(sorted(component.binaries))[:40]}-{key[:16]}"
    if (out / DONE).is_file():
        return out
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    log = cache / f"{component.name}.log"
    echo(f"- go build {component.name} {version}: {', '.join(component.binaries)} (log: {log})")
    started = time.monotonic()
    for binary, package in component.binaries.items():
        cmd = ["go", "build", "-o", str(tmp / binary), "-ldflags", " ".join(ldflags)]
        if component.tags:
            cmd += ["-tags", component.tags.replace(" ", ",")]
        cmd.append(package)
        _run(cmd, module, env=env, timeout=7200, log=log)
    (tmp / DONE).write_text(f"{version}\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    echo(f"  built in {time.monotonic() - started:.0f} s")
    return out


def _key(component: GoComponent, module: Path, ldflags: list[str], env: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for part in (go_version(), component.tags, json.dumps(component.binaries, sort_keys=True),
                 " ".join(ldflags), json.dumps(env, sort_keys=True),
                 (module / "go.mod").read_text(), (module / "go.sum").read_text()):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def _run(cmd: list[str], cwd: Path, *, env: dict[str, str] | None = None, timeout: float = 600,
         log: Path | None = None) -> str:
    full_env = {**os.environ, **(env or {})}
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        raise BuildError(f"{' '.join(cmd[:3])} did not finish within {timeout:.0f} s") from None
    if log is not None:
        with log.open("a", encoding="utf-8") as fh:
            fh.write(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}\n")
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr or proc.stdout).strip().splitlines() if line.strip()]
        where = f" (log: {log})" if log else ""
        raise BuildError(f"{' '.join(cmd[:3])} {cmd[-1]} failed: {lines[-1] if lines else 'no output'}{where}")
    return proc.stdout
