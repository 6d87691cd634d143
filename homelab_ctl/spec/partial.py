"""A best-effort Cluster from a document that failed field validation, so that the cross-field rules
still run and every problem is reported at once (a bad node name must not hide a duplicate address).

Each field that validates on its own keeps its value; the others are None and their paths are
`unknown`. Rules ask Known before they use a value.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from homelab_ctl.spec.problems import Loc


class Known:
    """Which parts of a (partial) spec are trustworthy. `unknown` holds paths relative to the spec."""

    def __init__(self, unknown: Iterable[Loc] = ()) -> None:
        self.unknown = frozenset(unknown)

    def __call__(self, *loc: int | str) -> bool:
        """The value at loc is known completely (neither it, a parent nor a part of it is unknown)."""
        return not any(u[:len(loc)] == loc[:len(u)] for u in self.unknown)

    def present(self, *loc: int | str) -> bool:
        """The value at loc exists (parts of it may be unknown): e.g. the nodes list, for its length."""
        return not any(len(u) <= len(loc) and loc[:len(u)] == u for u in self.unknown)


def build(model: type[BaseModel], data: Any) -> tuple[Any, set[Loc]]:
    """(partial model or None, unknown paths from the root) for data that failed validation."""
    unknown: set[Loc] = set()
    return _model(model, data, (), unknown), unknown


def _model(model: type[BaseModel], data: Any, loc: Loc, unknown: set[Loc]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError:
        pass
    if not isinstance(data, dict):
        unknown.add(loc)
        return None
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key in data:
            values[name] = _field(model, name, data[key], (*loc, key), unknown)
        elif field.is_required():
            unknown.add((*loc, key))
            values[name] = None
        else:
            values[name] = field.get_default(call_default_factory=True)
    return model.model_construct(**values)


def _field(model: type[BaseModel], name: str, raw: Any, loc: Loc, unknown: set[Loc]) -> Any:
    inner, optional = _optional(model.model_fields[name].annotation)
    if optional and raw is None:
        return None
    if _is_model(inner):
        return _model(inner, raw, loc, unknown)
    if typing.get_origin(inner) is list and _is_model(typing.get_args(inner)[0]):
        if not isinstance(raw, list):
            unknown.add(loc)
            return None
        items = [_model(typing.get_args(inner)[0], item, (*loc, i), unknown) for i, item in enumerate(raw)]
        try:
            _adapter(model, name).validate_python(raw)
        except ValidationError as exc:  # the list's own constraints (e.g. not empty)
            if any(len(e["loc"]) == 0 for e in exc.errors()):
                unknown.add(loc)
        return items
    try:
        return _adapter(model, name).validate_python(raw)
    except ValidationError:
        unknown.add(loc)
        return None


def _optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else tp), len(args) < len(typing.get_args(tp))
    return tp, False


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


@functools.cache
def _adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    """One field's type with its validators, validated strictly as the model does."""
    field = model.model_fields[name]
    tp: Any = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    return TypeAdapter(tp, config=ConfigDict(strict=True))
