"""A connection to the API server: kubeconfig -> ApiClient + DynamicClient, with bounded timeouts
and errors turned into one-line KubernetesErrors."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from homelab_ctl.errors import KubernetesError

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0


def describe(exc: BaseException) -> str:
    """One line for an error of the kubernetes client or urllib3: the API's message when it sent one."""
    status = getattr(exc, "status", None)
    body = getattr(exc, "body", None)
    if status is not None:
        reason = getattr(exc, "reason", "") or ""
        message = ""
        if body:
            try:
                data = json.loads(body)
                message = str(data.get("message") or "")
                reason = str(data.get("reason") or reason)
            except (ValueError, AttributeError):
                message = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
        line = f"{status} {reason}".strip() + (f": {message}" if message else "")
        return " ".join(line.split())
    reason = getattr(exc, "reason", None)  # urllib3's MaxRetryError: the underlying socket error
    text = str(reason if reason is not None else exc) or type(exc).__name__
    return " ".join(text.split())


class Kube:
    """An open connection. Use as a context manager, or call close()."""

    def __init__(self, api_client: Any, dynamic: Any, server: str, cache_dir: Path) -> None:
        self.api_client = api_client
        self.dynamic = dynamic
        self.server = server
        self._cache_dir = cache_dir

    def resource(self, api_version: str, kind: str) -> Any:
        """The API resource serving `kind` in `api_version` (discovery is refreshed on a miss, so
        kinds of CRDs applied a moment ago are found)."""
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            return self.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            raise KubernetesError(f"the API server at {self.server} has no kind {kind} in {api_version}",
                                  hint="a CustomResourceDefinition may not be installed (or not established yet)") \
                from None
        except Exception as exc:
            raise self.error(f"discovery of {kind} {api_version}", exc) from None

    def error(self, doing: str, exc: BaseException) -> KubernetesError:
        from urllib3.exceptions import HTTPError as Urllib3Error

        if isinstance(exc, Urllib3Error | OSError) and getattr(exc, "status", None) is None:
            return KubernetesError(f"cannot reach the Kubernetes API at {self.server}: {describe(exc)}")
        return KubernetesError(f"{doing}: {describe(exc)}")

    def close(self) -> None:
        self.api_client.close()
        shutil.rmtree(self._cache_dir, ignore_errors=True)

    def __enter__(self) -> Kube:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def connect(kubeconfig: Path, *, context: str | None = None, server: str | None = None,
            timeout: float = READ_TIMEOUT) -> Kube:
    """Open the cluster described by a kubeconfig file (e.g. state_dir/admin.conf). `server`
    overrides the kubeconfig's URL (e.g. the VIP instead of the node admin.conf was fetched from)."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.dynamic import DynamicClient

    if not kubeconfig.is_file():
        raise KubernetesError(f"kubeconfig not found: {kubeconfig}")
    configuration = client.Configuration()
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), context=context, client_configuration=configuration, persist_config=False)
    except (ConfigException, ValueError, OSError) as exc:
        raise KubernetesError(f"{kubeconfig}: not a usable kubeconfig: {describe(exc)}") from None
    if server is not None:
        configuration.host = server
    configuration.retries = 1  # the waits poll again anyway; a dead API should fail fast
    request_timeout = (CONNECT_TIMEOUT, timeout)

    class _Dynamic(DynamicClient):
        def request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
            params.setdefault("_request_timeout", request_timeout)  # never hang on a dead VIP
            return super().request(method, path, body, **params)

    api_client = client.ApiClient(configuration)
    # A private discovery cache: the default one is shared in /tmp by every process and user.
    cache_dir = Path(tempfile.mkdtemp(prefix="homelab-ctl-discovery-"))
    kube = Kube(api_client, None, configuration.host, cache_dir)
    try:
        kube.dynamic = _Dynamic(api_client, cache_file=str(cache_dir / "discovery.json"))  # type: ignore[no-untyped-call]
    except Exception as exc:
        kube.close()
        raise kube.error("discovery", exc) from None
    return kube
