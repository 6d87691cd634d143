"""A TEST DOUBLE of the Kubernetes API server (not a real one): plain HTTP on 127.0.0.1, strict
about the part of the contract homelab-ctl uses, and recording every call.

What it serves, like kube-apiserver does:
- discovery: /version, /api, /apis, /api/v1, /apis/<group>/<version> for a fixed set of resources;
- GET of one object or a list (cluster-wide or in a namespace);
- PATCH only as server-side apply: Content-Type application/apply-patch+yaml (else 415), a
  fieldManager (else 422; and it must be the expected one), force true/false (else 400), body
  apiVersion/kind/name/namespace matching the URL (else 400), the namespace existing (else 404),
  and the body valid against the real OpenAPI schema of its Kubernetes version with no unknown
  field (kubernetes-validate strict; else 422 Invalid). Created -> 201; an identical re-apply keeps
  its resourceVersion; a changed one gets a new resourceVersion (and generation if spec changed).
- unknown paths, groups, versions or resources -> 404; other methods (POST, PUT, DELETE) -> 405;
  unknown query parameters -> 400 (stricter than kube-apiserver, which ignores them).

Simplifications: apply replaces the applied fields instead of merging per field manager; no
watch, no auth, no TLS. Tests control status (node readiness, pods, rollouts) directly through
`add` / `set_status` and the `before_list` hooks, which run on every list of a resource.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate
import yaml

APPLY = "application/apply-patch+yaml"
GET_PARAMS = {"pretty", "labelSelector", "fieldSelector", "limit", "continue", "resourceVersion",
              "resourceVersionMatch", "timeoutSeconds"}
PATCH_PARAMS = {"fieldManager", "force", "dryRun", "fieldValidation", "pretty"}


@dataclass(frozen=True)
class Res:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


RESOURCES = (
    Res("", "v1", "namespaces", "Namespace", False),
    Res("", "v1", "nodes", "Node", False),
    Res("", "v1", "pods", "Pod", True),
    Res("", "v1", "configmaps", "ConfigMap", True),
    Res("", "v1", "secrets", "Secret", True),
    Res("", "v1", "serviceaccounts", "ServiceAccount", True),
    Res("", "v1", "services", "Service", True),
    Res("apps", "v1", "daemonsets", "DaemonSet", True),
    Res("apps", "v1", "deployments", "Deployment", True),
    Res("apps", "v1", "statefulsets", "StatefulSet", True),
    Res("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    Res("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    Res("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Res("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Res("storage.k8s.io", "v1", "storageclasses", "StorageClass", False),
    Res("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False),
)
_BY_GV_PLURAL = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_KIND = {(r.group_version, r.kind): r for r in RESOURCES}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str | None
    body: Any


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


Key = tuple[str, str, str | None, str]  # group, plural, namespace, name


@dataclass
class KubeApiDouble:
    kubernetes_version: str = "1.36.3"
    field_manager: str = "homelab-ctl"
    calls: list[Call] = field(default_factory=list)
    before_list: dict[str, Callable[[int], None]] = field(default_factory=dict)
    list_counts: dict[str, int] = field(default_factory=dict)
    url: str = ""
    _objects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    _applied: dict[Key, dict[str, Any]] = field(default_factory=dict)
    _rv: int = 100
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # -- direct access for tests (not through HTTP)
    def add(self, obj: dict[str, Any]) -> None:
        res = _BY_KIND[(obj["apiVersion"], obj["kind"])]
        meta = obj["metadata"]
        with self._lock:
            self._objects[self._key(res, meta.get("namespace"), meta["name"])] = self._stamp(copy.deepcopy(obj))

    def get(self, kind: str, name: str, namespace: str | None = None, api_version: str | None = None) -> Any:
        res = next(r for r in RESOURCES if r.kind == kind and (api_version in (None, r.group_version)))
        with self._lock:
            return copy.deepcopy(self._objects.get(self._key(res, namespace, name)))

    def objects(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(o) for o in self._objects.values()]

    def set_status(self, kind: str, name: str, namespace: str | None, status: dict[str, Any]) -> None:
        res = next(r for r in RESOURCES if r.kind == kind)
        with self._lock:
            obj = self._objects[self._key(res, namespace, name)]
            obj["status"] = copy.deepcopy(status)
            obj["metadata"]["resourceVersion"] = self._next_rv()

    def patches(self) -> list[Call]:
        return [c for c in self.calls if c.method == "PATCH"]

    # -- helpers
    def _key(self, res: Res, namespace: str | None, name: str) -> Key:
        return (res.group, res.plural, namespace if res.namespaced else None, name)

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _stamp(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        meta["resourceVersion"] = self._next_rv()
        meta.setdefault("generation", 1)
        return obj

    # -- HTTP
    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        split = urlsplit(raw_path)
        query = parse_qs(split.query, keep_blank_values=True)
        content_type = headers.get("content-type")
        parsed: Any = None
        if body:
            try:
                parsed = yaml.safe_load(body)
            except yaml.YAMLError:
                parsed = body.decode(errors="replace")
        with self._lock:
            self.calls.append(Call(method, split.path, query, content_type, parsed))
            try:
                return self._route(method, split.path, query, content_type, parsed)
            except ApiError as exc:
                return exc.code, status(exc.code, exc.reason, exc.message)
            except Exception as exc:  # a bug in the double: say so instead of dropping the connection
                return 500, status(500, "InternalError", f"test double: {exc!r}")

    def _route(self, method: str, path: str, query: dict[str, list[str]], content_type: str | None,
               body: Any) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        if method == "GET" and not (set(query) - GET_PARAMS) and len(parts) <= 3:
            discovery = self._discovery(parts)
            if discovery is not None:
                return 200, discovery
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise not_found()
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 2:
            raise not_found()
        res = _BY_GV_PLURAL.get((group, version, rest[0]))
        if res is None or (namespace is not None and not res.namespaced):
            raise not_found()
        name = rest[1] if len(rest) == 2 else None
        if res.namespaced and name is not None and namespace is None:
            raise not_found()
        if method == "GET":
            if set(query) - GET_PARAMS:
                raise ApiError(400, "BadRequest", f"unsupported query parameters: {sorted(set(query) - GET_PARAMS)}")
            return 200, self._get(res, namespace, name)
        if method == "PATCH" and name is not None:
            return self._apply(res, namespace, name, query, content_type, body)
        raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource "
                                                f"({method} is not part of this double's contract)")

    def _discovery(self, parts: list[str]) -> Any:
        if parts == ["version"]:
            major, minor, _ = self.kubernetes_version.split(".")
            return {"major": major, "minor": minor, "gitVersion": f"v{self.kubernetes_version}",
                    "platform": "linux/amd64"}
        if parts == ["api"]:
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if parts == ["apis"]:
            groups: dict[str, list[str]] = {}
            for r in RESOURCES:
                if r.group and r.version not in groups.setdefault(r.group, []):
                    groups[r.group].append(r.version)
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                 "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
                for g, vs in groups.items()]}
        if parts == ["api", "v1"] or (len(parts) == 3 and parts[0] == "apis"):
            group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
            resources = [r for r in RESOURCES if (r.group, r.version) == (group, version)]
            if not resources:
                raise not_found()
            return {"kind": "APIResourceList", "apiVersion": "v1",
                    "groupVersion": resources[0].group_version,
                    "resources": [{"name": r.plural, "singularName": r.kind.lower(), "namespaced": r.namespaced,
                                   "kind": r.kind, "verbs": ["get", "list", "patch"]} for r in resources]}
        return None

    def _get(self, res: Res, namespace: str | None, name: str | None) -> Any:
        if name is not None:
            obj = self._objects.get(self._key(res, namespace, name))
            if obj is None:
                raise not_found(res, name)
            return copy.deepcopy(obj)
        count = self.list_counts[res.plural] = self.list_counts.get(res.plural, 0) + 1
        if res.plural in self.before_list:
            self.before_list[res.plural](count)
        items = []
        for (group, plural, ns, _), obj in sorted(self._objects.items(), key=lambda kv: str(kv[0])):
            if (group, plural) == (res.group, res.plural) and (namespace is None or ns == namespace):
                item = copy.deepcopy(obj)
                item.pop("apiVersion", None)  # list items come without apiVersion/kind
                item.pop("kind", None)
                items.append(item)
        return {"kind": f"{res.kind}List", "apiVersion": res.group_version,
                "metadata": {"resourceVersion": str(self._rv)}, "items": items}

    def _apply(self, res: Res, namespace: str | None, name: str, query: dict[str, list[str]],
               content_type: str | None, body: Any) -> tuple[int, Any]:
        if content_type != APPLY:
            raise ApiError(415, "UnsupportedMediaType",
                           f"the body of the request was in an unknown format - accepted media types "
                           f"include: {APPLY} (this double only implements server-side apply)")
        unknown = set(query) - PATCH_PARAMS
        if unknown:
            raise ApiError(400, "BadRequest", f"unsupported query parameters: {sorted(unknown)}")
        manager = query.get("fieldManager", [""])[0]
        if not manager:
            raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                                           "is required for apply patch")
        if manager != self.field_manager:
            raise ApiError(422, "Invalid", f"fieldManager {manager!r}: this double accepts only {self.field_manager!r}")
        force = query.get("force", ["false"])[0]
        if force not in ("true", "false"):
            raise ApiError(400, "BadRequest", f'invalid force value "{force}": must be true or false')
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of an apply patch must be a YAML or JSON object")
        if body.get("apiVersion") != res.group_version:
            raise ApiError(400, "BadRequest", f"the API version in the data ({body.get('apiVersion')}) does not match "
                                              f"the expected API version ({res.group_version})")
        if body.get("kind") != res.kind:
            raise ApiError(400, "BadRequest", f"the kind in the data ({body.get('kind')}) does not match the "
                                              f"expected kind ({res.kind})")
        meta = body.get("metadata") or {}
        if meta.get("name") != name:
            raise ApiError(400, "BadRequest", f"the name of the object ({meta.get('name')}) does not match the name "
                                              f"on the URL ({name})")
        if res.namespaced and meta.get("namespace") not in (None, namespace):
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                                              "sent on the request")
        if res.namespaced and self._key(_BY_KIND[("v1", "Namespace")], None, str(namespace)) not in self._objects:
            raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found')
        try:
            kubernetes_validate.validate(body, self.kubernetes_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path) or "<root>"
            group = f".{res.group}" if res.group else ""
            raise ApiError(422, "Invalid", f'{res.kind}{group} "{name}" is invalid: {where}: {exc.message}') from None
        key = self._key(res, namespace, name)
        applied = copy.deepcopy(body)
        if res.namespaced:
            applied["metadata"]["namespace"] = namespace
        current = self._objects.get(key)
        if current is None:
            self._applied[key] = applied
            self._objects[key] = self._stamp(copy.deepcopy(applied))
            return 201, copy.deepcopy(self._objects[key])
        if self._applied.get(key) != applied:
            spec_changed = (self._applied.get(key) or {}).get("spec") != applied.get("spec")
            server_meta = {k: current["metadata"][k] for k in ("uid", "creationTimestamp", "generation")}
            obj = copy.deepcopy(applied)
            obj["metadata"].update(server_meta)
            if spec_changed:
                obj["metadata"]["generation"] += 1
            if "status" in current:
                obj["status"] = current["status"]
            obj["metadata"]["resourceVersion"] = self._next_rv()
            self._applied[key] = applied
            self._objects[key] = obj
        return 200, copy.deepcopy(self._objects[key])


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


def not_found(res: Res | None = None, name: str | None = None) -> ApiError:
    if res is None:
        return ApiError(404, "NotFound", "the server could not find the requested resource")
    group = f".{res.group}" if res.group else ""
    return ApiError(404, "NotFound", f'{res.plural}{group} "{name}" not found')


@contextmanager
def serve(double: KubeApiDouble | None = None) -> Iterator[KubeApiDouble]:
    api = double or KubeApiDouble()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _respond(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            code, payload = api.handle(self.command, self.path, headers, body)
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _respond

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host, port = server.server_address[:2]
    api.url = f"http://{host!s}:{port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def write_kubeconfig(path: Path, server: str) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "double",
        "clusters": [{"name": "double", "cluster": {"server": server}}],
        "users": [{"name": "double", "user": {}}],
        "contexts": [{"name": "double", "context": {"cluster": "double", "user": "double"}}],
    }))
    return path


def node(name: str, ready: bool) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "reason": "KubeletReady" if ready else "KubeletNotReady"}]}}


def pod(name: str, namespace: str, phase: str, ready: bool, waiting: str | None = None) -> dict[str, Any]:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": str(ready)}],
                       "containerStatuses": [{"name": "c", "ready": ready, "state": state}]}}
