"""Field types of the spec with the one-line messages users see when a value is wrong.

Every pattern is matched whole (re.fullmatch): with re.match, `$` also matches before a trailing
newline, and "cp1\\n" would reach hosts.yml, a kubeadm nodeRegistration name and a file name.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from homelab_ctl.spec import labels
from homelab_ctl.spec.show import quote

_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
_HOST_LABEL = r"[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _fail(kind: str, message: str, value: Any = None, **ctx: Any) -> PydanticCustomError:
    """Messages quote the value with {value}: escaped and cut (it may hold escapes or megabytes)."""
    return PydanticCustomError(kind, message, {"value": quote(value), **ctx})


def pattern(kind: str, regex: str, message: str, max_length: int | None = None) -> AfterValidator:
    """A string that matches `regex` as a whole (and is at most max_length long)."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if (max_length is not None and len(value) > max_length) or not compiled.fullmatch(value):
            raise _fail(kind, message, value)
        return value

    return AfterValidator(check)


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise _fail("ip", "{value} is not an IP address", value) from None


def _unicast(value: str) -> str:
    """A machine's own address: other machines must be able to reach it (checked after _ip)."""
    ip = ipaddress.ip_address(value)
    why = ("the unspecified address" if ip.is_unspecified else "a loopback address" if ip.is_loopback
           else "a multicast address" if ip.is_multicast else "a link-local address" if ip.is_link_local
           else "a reserved address" if ip.is_reserved else None)
    if why:
        raise _fail("ip", "{value} is {why}: use the address the machine has on its LAN", value, why=why)
    return value


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
                raise _fail("cidr", "{value} has host bits set (did you mean {net}?)", value, net=str(net)) from None
        raise _fail("cidr", "{value} is not a CIDR network like 10.244.0.0/16", value) from None


def _host(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if len(value) > 253 or not re.fullmatch(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*", value):
        raise _fail("host", "{value} is neither an IP address nor a host name", value)
    return value


def _mac(value: str) -> str:
    low = value.lower().replace("-", ":")
    if not re.fullmatch(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}", low):
        raise _fail("mac", "{value} is not a MAC address like 52:54:00:12:34:56", value)
    return low


def _uuid(value: str) -> str:
    low = value.lower()
    if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", low):
        raise _fail("uuid", "{value} is not a UUID", value)
    return low


def _regex(value: str) -> str:
    if len(value) > 256 or _CONTROL.search(value):
        raise _fail("regex", "{value} is not a plausible interface name pattern (one line, at most 256 characters)",
                    value)
    try:
        re.compile(value)
    except re.error as exc:
        raise _fail("regex", "{value} is not a valid regular expression: {why}", value, why=str(exc)) from None
    return value


def _url(value: str) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname or len(value) > 2048
            or re.search(r"\s", value) or _CONTROL.search(value)):
        raise _fail("url", "{value} is not an http(s) URL", value)
    return value


def _path(value: str) -> str:
    if not value or len(value) > 4096 or _CONTROL.search(value):
        raise _fail("path", "{value} is not a usable path (one line, at most 4096 characters)", value)
    return value


def _abs_path(value: str) -> str:
    if not value.startswith("/"):
        raise _fail("path", "{value} must be an absolute path", value)
    return value


def _label_key(value: str) -> str:
    why = labels.key_problem(value)
    if why:
        raise _fail("label_key", "label key {value} is invalid: {why}", value, why=why)
    return value


def _node_label_key(value: str) -> str:
    why = labels.kubelet_refuses(value)
    if why:
        raise _fail("label_key", "label {value} {why}", value, why=why)
    return value


def _label_value(value: str) -> str:
    if not labels.valid_value(value):
        raise _fail("label_value", "label value {value} is invalid: " + labels.VALUE_RULE, value)
    return value


def refuse_inline_secret(value: Any) -> Any:
    """A secret written inline is refused without echoing it."""
    if isinstance(value, str | int | float):
        raise PydanticCustomError(
            "secret_inline",
            "secrets must not be written in the spec: use {file: PATH} or {env: VARIABLE}",
        )
    return value


_NAME_RULE = ("is not a valid name (RFC 1123: lower-case letters, digits and '-', starting and ending with a "
              "letter or digit, at most 63 characters)")

IP = Annotated[str, AfterValidator(_ip)]
HostIP = Annotated[str, AfterValidator(_ip), AfterValidator(_unicast)]
CIDR = Annotated[str, AfterValidator(_cidr)]
Name = Annotated[str, pattern("name", _LABEL, "{value} " + _NAME_RULE, 63)]
Domain = Annotated[str, pattern("domain", rf"{_LABEL}(?:\.{_LABEL})*", "{value} is not a valid DNS domain", 253)]
Host = Annotated[str, AfterValidator(_host)]
Version = Annotated[str, pattern("version", r"[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}",
                                 "{value} is not a version like 1.36.3")]
MAC = Annotated[str, AfterValidator(_mac)]
UUID = Annotated[str, AfterValidator(_uuid)]
MachineID = Annotated[str, pattern("machine_id", r"[0-9a-f]{32}", "{value} is not a machine-id (32 hex digits)")]
Quantity = Annotated[str, pattern("quantity", r"[0-9]{1,15}(?:\.[0-9]{1,6})?(?:Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?",
                                  "{value} is not a size like 10Gi")]
Regex = Annotated[str, AfterValidator(_regex)]
URL = Annotated[str, AfterValidator(_url)]
EnvName = Annotated[str, pattern("env", r"[A-Za-z_][A-Za-z0-9_]{0,254}", "{value} is not an environment variable name")]
FilePath = Annotated[str, AfterValidator(_path)]
AbsPath = Annotated[str, AfterValidator(_path), AfterValidator(_abs_path)]
# POSIX-ish (useradd's default NAME_REGEX, plus upper case and dots), 32 characters as in Linux utmp.
UserName = Annotated[str, pattern("user", r"[A-Za-z_][A-Za-z0-9._-]{0,31}",
                                  "{value} is not a user name (letters, digits, '.', '_', '-'; "
                                  "not starting with '-' or a digit; at most 32 characters)")]
# Linux interface names: at most 15 bytes (IFNAMSIZ 16 with the NUL); we keep to a safe charset.
Interface = Annotated[str, pattern("iface", r"(?!\.\.?\Z)[A-Za-z0-9_.-]{1,15}",
                                   "{value} is not a network interface name (letters, digits, '.', '_', '-'; "
                                   "at most 15 characters)")]
LabelKey = Annotated[str, AfterValidator(_label_key)]
NodeLabelKey = Annotated[str, AfterValidator(_label_key), AfterValidator(_node_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]
# PostgreSQL roles and databases as the Postgres Operator accepts them.
PgName = Annotated[str, pattern("pg_name", r"[a-z_][a-z0-9_]{0,62}",
                                "{value} is not a PostgreSQL name (lower-case letters, digits and '_', "
                                "at most 63 characters)")]
PostgresVersion = Annotated[str, pattern("pg_version", r"1[3-8]", "{value} is not a PostgreSQL major version "
                                                                  "(13 to 18)")]
Bucket = Annotated[str, pattern("bucket", r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
                                "{value} is not an S3 bucket name (3 to 63 lower-case letters, digits, '.', '-')")]
Region = Annotated[str, pattern("region", r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", "{value} is not an S3 region name")]
Cron = Annotated[str, pattern("cron", r"@(?:yearly|annually|monthly|weekly|daily|hourly)"
                                      r"|[0-9A-Za-z*/,-]{1,20}(?: [0-9A-Za-z*/,-]{1,20}){4}",
                              "{value} is not a cron schedule like '0 3 * * *'")]
# A directory name under /etc/containerd/certs.d on the nodes: host[:port], or _default for all.
Registry = Annotated[str, pattern("registry", rf"_default|{_HOST_LABEL}(?:\.{_HOST_LABEL})*(?::[0-9]{{1,5}})?",
                                  "{value} is not a registry host like docker.io or registry.lan:5000", 253)]
# MetalLB address pools: the syntax here, the addresses themselves in networks.py (they need the LAN).
AddressRange = Annotated[str, pattern("range", r"[0-9A-Fa-f.:/-]{1,100}",
                                      "{value} is not a CIDR or a range like 192.168.10.200-192.168.10.220")]
Port = Annotated[int, Field(ge=1, le=65535)]
NoInlineSecret = BeforeValidator(refuse_inline_secret)
