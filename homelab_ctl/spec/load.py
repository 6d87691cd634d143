"""Load a spec file: bytes -> YAML -> field rules (pydantic) -> cross-field rules -> local files.

Every problem is reported at once: when fields are invalid, the cross-field rules and the file
checks still run on what is valid (see partial.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from homelab_ctl.errors import SpecError
from homelab_ctl.spec import consistency, partial, show
from homelab_ctl.spec.messages import YAML_TYPES, location, message
from homelab_ctl.spec.models import Cluster
from homelab_ctl.spec.problems import Problem
from homelab_ctl.spec.yamlfile import Document, InputError, YamlSyntaxError, read

MAX_SHOWN = 100  # problems listed; a generated file can hold thousands of the same mistake


@dataclass(frozen=True)
class Loaded:
    cluster: Cluster
    path: Path
    warnings: list[Problem] = field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        """Relative paths in the spec are relative to the spec file."""
        return self.path.parent


def load(path: Path | str, *, check_files: bool = False) -> Loaded:
    """The valid spec, or SpecError with every problem. check_files: also look at the files and
    variables the spec points at (validate, render and up do; tests of pure rendering do not)."""
    path = Path(path)
    name = show.path(path)
    try:
        text = read(path)
    except OSError as exc:
        raise SpecError(name, [f"{name}: cannot read: {exc.strerror or exc}"]) from None
    except InputError as exc:
        raise SpecError(name, [f"{name}: {exc.message}"]) from None
    resolved = _resolve(path)
    cluster, problems = parse(text, base_dir=resolved.parent if check_files else None)
    errors = [str(p) for p in problems if p.severity == "error"]
    if errors or cluster is None:
        if len(errors) > MAX_SHOWN:
            errors = [*errors[:MAX_SHOWN], f"{name}: {len(errors) - MAX_SHOWN} more problems not shown"]
        raise SpecError(name, errors)
    return Loaded(cluster, resolved, [p for p in problems if p.severity == "warning"])


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def parse(text: str, base_dir: Path | None = None) -> tuple[Cluster | None, list[Problem]]:
    """The cluster (None when invalid) and every problem found, errors and warnings.
    With base_dir, the files the spec points at are checked too (relative to base_dir)."""
    try:
        doc = Document(text)
    except YamlSyntaxError as exc:
        return None, [Problem((), f"YAML syntax error at line {exc.line}, column {exc.column}: {exc.problem}")]
    if not isinstance(doc.data, dict):
        return None, [Problem((), f"expected a mapping with apiVersion, kind, metadata and spec, got "
                                  f"{YAML_TYPES.get(type(doc.data), 'something else')}")]
    field_problems: list[Problem] = []
    try:
        cluster: Cluster | None = Cluster.model_validate(doc.data)
        spec, known = (cluster.spec if cluster else None), partial.Known()
    except ValidationError as exc:
        field_problems = sorted((Problem(location(e), message(e), line=doc.line_of(location(e)))
                                 for e in exc.errors(include_url=False)), key=lambda p: p.line or 0)
        cluster = None
        draft, unknown = partial.build(Cluster, doc.data)
        spec = draft.spec if draft is not None else None
        known = partial.Known(u[1:] for u in unknown if u[:1] == ("spec",))
        if ("spec",) in unknown:
            spec = None
    later = consistency.check(spec, known if field_problems else None, base_dir)
    if field_problems:  # warnings are for a spec that is otherwise ready
        later = [p for p in later if p.severity == "error"]
    problems = field_problems + [Problem(p.loc, p.message, p.severity, doc.line_of(p.loc)) for p in later]
    return cluster, problems
