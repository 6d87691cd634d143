"""Field types of the spec with the one-line messages users see when a value is wrong."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_DNS1123_LABEL = re.compile(rf"^{_LABEL}$")
_DNS1123_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _fail(kind: str, message: str, **ctx: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, message, ctx)


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise _fail("ip", "'{value}' is not an IP address", value=value) from None


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError:
        if "/" in value:
            try:
                net = ipaddress.ip_network(value, strict=False)
            except ValueError:
                pass
            else:
                raise _fail(
                    "cidr", "'{value}' has host bits set (did you mean {net}?)", value=value, net=str(net)
                ) from None
        raise _fail("cidr", "'{value}' is not a CIDR network like 10.244.0.0/16", value=value) from None


def _name(value: str) -> str:
    if len(value) > 63 or not _DNS1123_LABEL.match(value):
        raise _fail(
            "name",
            "'{value}' is not a valid name (RFC 1123: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters)",
            value=value,
        )
    return value


def _subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS1123_SUBDOMAIN.match(value):
        raise _fail("domain", "'{value}' is not a valid DNS domain", value=value)
    return value


def _host(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if len(value) > 253 or not _HOSTNAME.match(value):
        raise _fail("host", "'{value}' is neither an IP address nor a host name", value=value)
    return value


def _version(value: str) -> str:
    if not _VERSION.match(value):
        raise _fail("version", "'{value}' is not a version like 1.36.3", value=value)
    return value


def _mac(value: str) -> str:
    low = value.lower().replace("-", ":")
    if not _MAC.match(low):
        raise _fail("mac", "'{value}' is not a MAC address like 52:54:00:12:34:56", value=value)
    return low


def _uuid(value: str) -> str:
    low = value.lower()
    if not _UUID.match(low):
        raise _fail("uuid", "'{value}' is not a UUID", value=value)
    return low


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise _fail("quantity", "'{value}' is not a size like 10Gi", value=value)
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise _fail("regex", "'{value}' is not a valid regular expression: {why}", value=value, why=str(exc)) from None
    return value


def _url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise _fail("url", "'{value}' is not an http(s) URL", value=value)
    return value


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise _fail("env", "'{value}' is not an environment variable name", value=value)
    return value


def _abs_path(value: str) -> str:
    if not value.startswith("/"):
        raise _fail("path", "'{value}' must be an absolute path", value=value)
    return value


def refuse_inline_secret(value: Any) -> Any:
    """A secret written inline is refused without echoing it."""
    if isinstance(value, str | int | float):
        raise _fail(
            "secret_inline",
            "secrets must not be written in the spec: use {file: PATH} or {env: VARIABLE}",
        )
    return value


IP = Annotated[str, AfterValidator(_ip)]
CIDR = Annotated[str, AfterValidator(_cidr)]
Name = Annotated[str, AfterValidator(_name)]
Domain = Annotated[str, AfterValidator(_subdomain)]
Host = Annotated[str, AfterValidator(_host)]
Version = Annotated[str, AfterValidator(_version)]
MAC = Annotated[str, AfterValidator(_mac)]
UUID = Annotated[str, AfterValidator(_uuid)]
Quantity = Annotated[str, AfterValidator(_quantity)]
Regex = Annotated[str, AfterValidator(_regex)]
URL = Annotated[str, AfterValidator(_url)]
EnvName = Annotated[str, AfterValidator(_env_name)]
AbsPath = Annotated[str, AfterValidator(_abs_path)]
Port = Annotated[int, Field(ge=1, le=65535)]
NoInlineSecret = BeforeValidator(refuse_inline_secret)
