"""Load a spec file: YAML syntax, then field rules (pydantic), then cross-field rules.

Every problem of a stage is reported at once; a later stage runs when the earlier ones passed.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from homelab_ctl.errors import SpecError
from homelab_ctl.spec import consistency
from homelab_ctl.spec.models import Cluster
from homelab_ctl.spec.problems import Problem
from homelab_ctl.spec.yamlfile import Document, YamlSyntaxError

_YAML_TYPES = {dict: "a mapping", list: "a list", str: "a string", int: "an integer", float: "a number",
               bool: "a boolean", type(None): "null"}
_EXPECTED = {"string_type": "a string", "int_type": "an integer", "bool_type": "true or false",
             "list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping",
             "model_attributes_type": "a mapping", "float_type": "a number"}


@dataclass(frozen=True)
class Loaded:
    cluster: Cluster
    path: Path
    warnings: list[Problem] = field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        """Relative paths in the spec are relative to the spec file."""
        return self.path.parent


def load(path: Path | str) -> Loaded:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(str(path), [f"{path}: cannot read: {exc.strerror}"]) from None
    cluster, problems = parse(text)
    errors = [str(p) for p in problems if p.severity == "error"]
    if errors or cluster is None:
        raise SpecError(str(path), errors)
    return Loaded(cluster, path.resolve(), [p for p in problems if p.severity == "warning"])


def parse(text: str) -> tuple[Cluster | None, list[Problem]]:
    """The cluster (None when invalid) and every problem found, errors and warnings."""
    try:
        doc = Document(text)
    except YamlSyntaxError as exc:
        return None, [Problem((), f"YAML syntax error at line {exc.line}, column {exc.column}: {exc.problem}")]
    if not isinstance(doc.data, dict):
        return None, [Problem((), f"expected a mapping with apiVersion, kind, metadata and spec, got "
                                  f"{_YAML_TYPES.get(type(doc.data), 'something else')}")]
    try:
        cluster = Cluster.model_validate(doc.data)
    except ValidationError as exc:
        problems = [_problem(err, doc) for err in exc.errors(include_url=False)]
        return None, sorted(problems, key=lambda p: p.line or 0)
    problems = consistency.check(cluster)
    return cluster, [Problem(p.loc, p.message, p.severity, doc.line_of(p.loc)) for p in problems]


def _problem(err: ErrorDetails, doc: Document) -> Problem:
    loc = tuple(err["loc"])
    return Problem(loc, _message(err), line=doc.line_of(loc))


def _message(err: ErrorDetails) -> str:
    kind, value = err["type"], err["input"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        known = _fields_at(Cluster, err["loc"][:-1])
        close = difflib.get_close_matches(str(err["loc"][-1]), known, n=1)
        return "unknown field" + (f" (did you mean '{close[0]}'?)" if close else "")
    if kind in _EXPECTED:
        got = _YAML_TYPES.get(type(value), type(value).__name__)
        shown = "" if isinstance(value, dict | list) else f" {_show(value)}"
        return f"expected {_EXPECTED[kind]}, got {got}{shown}"
    if kind == "literal_error":
        return f"{value!r} is not one of {err.get('ctx', {}).get('expected', '')}"
    if kind == "too_short":
        return "must not be empty"
    if kind == "string_pattern_mismatch":
        return f"{value!r} does not match {err.get('ctx', {}).get('pattern', '')}"
    ctx = err.get("ctx", {})
    if kind == "greater_than_equal":
        return f"{_show(value)} is below the minimum {ctx['ge']}"
    if kind == "less_than_equal":
        return f"{_show(value)} is above the maximum {ctx['le']}"
    return str(err["msg"]).removeprefix("Value error, ")


def _show(value: Any) -> str:
    """A value as it would read in YAML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else repr(value)


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Aliases of the model found by following loc from the Cluster root (for 'did you mean')."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        fields = {f.alias or name: f for name, f in current.model_fields.items()}
        if part not in fields:
            return []
        current = fields[part].annotation
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    """list[X] / X | None / Annotated[X, ...] -> X."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated or origin is list:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
        else:
            return tp
