"""One-line messages for pydantic's field errors (the spec path is added by Problem)."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from homelab_ctl.spec.models import Cluster
from homelab_ctl.spec.problems import Loc
from homelab_ctl.spec.show import quote

YAML_TYPES = {dict: "a mapping", list: "a list", str: "a string", int: "an integer", float: "a number",
              bool: "a boolean", type(None): "null"}
_EXPECTED = {"string_type": "a string", "int_type": "an integer", "bool_type": "true or false",
             "list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping",
             "model_attributes_type": "a mapping", "float_type": "a number"}


def location(err: ErrorDetails) -> Loc:
    """pydantic's loc, without the '[key]' it appends for a bad mapping key (the message says 'key')."""
    loc = tuple(err["loc"])
    return loc[:-1] if loc and loc[-1] == "[key]" else loc


def message(err: ErrorDetails) -> str:
    kind, value = err["type"], err["input"]
    ctx = err.get("ctx", {})
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field" + _did_you_mean(err["loc"])
    if kind in _EXPECTED:
        got = YAML_TYPES.get(type(value), type(value).__name__)
        shown = "" if isinstance(value, dict | list) else f" {show(value)}"
        return f"expected {_EXPECTED[kind]}, got {got}{shown}"
    if kind == "literal_error":
        return f"{quote(value)} is not one of {ctx.get('expected', '')}"
    if kind == "too_short":
        return "must not be empty"
    if kind == "string_pattern_mismatch":
        return f"{quote(value)} does not match {ctx.get('pattern', '')}"
    if kind == "greater_than_equal":
        return f"{show(value)} is below the minimum {ctx['ge']}"
    if kind == "less_than_equal":
        return f"{show(value)} is above the maximum {ctx['le']}"
    return str(err["msg"]).removeprefix("Value error, ")


def show(value: Any) -> str:
    """A value as it would read in YAML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else quote(value)


def _did_you_mean(loc: tuple[int | str, ...]) -> str:
    key = loc[-1]
    if not isinstance(key, str) or len(key) > 64:
        return ""
    close = difflib.get_close_matches(key, _fields_at(Cluster, loc[:-1]), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Aliases of the model found by following loc from the Cluster root (for 'did you mean')."""
    current: Any = model
    for part in loc:
        current = unwrap(current)
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        fields = {f.alias or name: f for name, f in current.model_fields.items()}
        if part not in fields:
            return []
        current = fields[part].annotation
    current = unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def unwrap(tp: Any) -> Any:
    """list[X] / X | None / Annotated[X, ...] -> X."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated or origin is list:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
        else:
            return tp
