"""Every fixture spec: valid ones load cleanly, invalid ones give exactly the problems in their
`# expect:` header lines (path and message, in order)."""

from __future__ import annotations

from pathlib import Path

import pytest

from homelab_ctl.spec import parse

SPECS = Path(__file__).resolve().parents[2] / "fixtures" / "specs"
INVALID = sorted((SPECS / "invalid").glob("*.yaml"))
VALID = sorted((SPECS / "valid").glob("*.yaml"))


def _expected(text: str) -> list[str]:
    return [line.removeprefix("# expect: ") for line in text.splitlines() if line.startswith("# expect: ")]


def test_enough_fixtures() -> None:
    assert len(INVALID) >= 25
    assert {p.stem for p in VALID} >= {"one-node", "1cp-2w", "3cp-2w-vip", "3cp-3w-nas-addons"}


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_spec_reports_exact_problems(path: Path) -> None:
    text = path.read_text()
    expected = _expected(text)
    assert expected, f"{path.name} has no '# expect:' line"
    cluster, problems = parse(text)
    assert cluster is None or any(p.severity == "error" for p in problems)
    assert [f"{p.path}: {p.message}" for p in problems if p.severity == "error"] == expected


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_spec_has_no_errors(path: Path) -> None:
    cluster, problems = parse(path.read_text())
    assert cluster is not None
    assert [str(p) for p in problems if p.severity == "error"] == []


def test_example_written_by_init_is_valid() -> None:
    example = Path(__file__).resolve().parents[3] / "homelab_ctl" / "spec" / "example.yaml"
    cluster, problems = parse(example.read_text())
    assert cluster is not None and problems == []
