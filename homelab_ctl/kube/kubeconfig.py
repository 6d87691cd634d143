"""Merge the cluster's admin kubeconfig (state_dir/admin.conf, fetched by `up` from the first control
plane) into the user's kubeconfig: cluster, user and context all named after the cluster, server at
the control-plane endpoint; entries of other clusters kept; written 0600 atomically."""

from __future__ import annotations

import copy
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homelab_ctl.errors import UsageError
from homelab_ctl.spec import Cluster, Loaded
from homelab_ctl.state import state_dir

ADMIN_CONF = "admin.conf"
DEFAULT_KUBECONFIG = Path("~/.kube/config")
_SECTIONS = {"clusters": "cluster", "users": "user", "contexts": "context"}


@dataclass(frozen=True)
class Merged:
    path: Path
    context: str
    server: str
    replaced: bool  # the file already had entries for this cluster
    current: bool  # the context is now the current one


def admin_conf_path(loaded: Loaded) -> Path:
    return state_dir(loaded, create=False) / ADMIN_CONF


def server_url(cluster: Cluster) -> str:
    """https://<VIP or load balancer>:<port>, or the first control plane's address on 6443."""
    endpoint = cluster.spec.kubernetes.control_plane_endpoint
    host, port = (endpoint.address, endpoint.port) if endpoint else (cluster.spec.control_planes[0].address, 6443)
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a host name
    return f"https://{host}:{port}"


def _entry(doc: dict[str, Any], section: str, name: str | None, source: Path) -> dict[str, Any]:
    key = _SECTIONS[section]
    for item in doc.get(section) or []:
        if isinstance(item, dict) and item.get("name") == name and isinstance(item.get(key), dict):
            return dict(item[key])
    raise UsageError(f"{source}: no {key} named {name!r}: not a kubeconfig written by kubeadm")


def merge(existing: dict[str, Any], admin: dict[str, Any], *, name: str, server: str, set_current: bool = True,
          source: Path = Path(ADMIN_CONF)) -> dict[str, Any]:
    """Pure: `existing` with the admin credentials added (or replaced) under `name`."""
    context_name = admin.get("current-context") or next(
        (c.get("name") for c in admin.get("contexts") or [] if isinstance(c, dict)), None)
    context = _entry(admin, "contexts", context_name, source)
    cluster = _entry(admin, "clusters", context.get("cluster"), source)
    user = _entry(admin, "users", context.get("user"), source)
    cluster["server"] = server
    wanted = {"clusters": cluster, "users": user, "contexts": {"cluster": name, "user": name}}

    out = copy.deepcopy(existing)
    out.setdefault("apiVersion", "v1")
    out.setdefault("kind", "Config")
    for section, key in _SECTIONS.items():
        items = [i for i in out.get(section) or [] if not (isinstance(i, dict) and i.get("name") == name)]
        at = next((n for n, i in enumerate(out.get(section) or []) if isinstance(i, dict) and i.get("name") == name),
                  len(items))
        items.insert(at, {"name": name, key: wanted[section]})  # in place when replacing: a stable file
        out[section] = items
    if set_current or not out.get("current-context"):
        out["current-context"] = name
    return out


def _load_yaml(path: Path, what: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what}: {exc.strerror}") from None
    except yaml.YAMLError:
        raise UsageError(f"{path}: the {what} is not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(data.get(s) or [], list) for s in _SECTIONS):
        raise UsageError(f"{path}: not a kubeconfig (expected a mapping with clusters, users and contexts lists)")
    return data


def merge_admin_kubeconfig(loaded: Loaded, target: Path | None = None, *, set_current: bool = True) -> Merged:
    """Merge state_dir/admin.conf into `target` (default ~/.kube/config)."""
    import yaml

    admin_path = admin_conf_path(loaded)
    name = loaded.cluster.name
    if not admin_path.is_file():
        raise UsageError(f"no admin kubeconfig for cluster {name}: {admin_path} does not exist",
                         hint=f"run homelab-ctl up -f {loaded.path.name} first")
    admin = _load_yaml(admin_path, "admin kubeconfig")
    path = (target or DEFAULT_KUBECONFIG).expanduser()
    path = path.resolve() if path.is_symlink() else path  # keep the link, update the file it points to
    existing = _load_yaml(path, "kubeconfig") if path.exists() else {}
    replaced = any(isinstance(c, dict) and c.get("name") == name for c in existing.get("contexts") or [])
    server = server_url(loaded.cluster)
    merged = merge(existing, admin, name=name, server=server, set_current=set_current, source=admin_path)
    _write_private(path, yaml.safe_dump(merged, sort_keys=False, default_flow_style=False))
    return Merged(path, name, server, replaced, merged.get("current-context") == name)


def _write_private(path: Path, text: str) -> None:
    """Atomic, and never readable by others, not even for a moment (it holds a client key)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
