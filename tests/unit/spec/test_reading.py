"""Files that are not a spec at all: one problem each, never an exception (classes 'crashes' and 'slow')."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from homelab_ctl.errors import SpecError
from homelab_ctl.spec import load, parse
from homelab_ctl.spec.yamlfile import MAX_BYTES, MAX_DEPTH, MAX_NODES
from tests.unit.spec.specs import text

VALID = text().encode()


def problems_of(tmp_path: Path, data: bytes) -> list[str]:
    path = tmp_path / "cluster.yaml"
    path.write_bytes(data)
    with pytest.raises(SpecError) as info:
        load(path)
    return info.value.problems


@pytest.mark.parametrize("data, words", [
    (b"apiVersion: \xff\xfe\n", "is not UTF-8 text: byte 0xff at line 1, column 13"),
    (codecs.BOM_UTF16_LE + VALID.decode().encode("utf-16-le"), "is UTF-16 text: save it as UTF-8"),
    (codecs.BOM_UTF32_BE + VALID.decode().encode("utf-32-be"), "is UTF-32 text"),
    (VALID.decode().encode("utf-16-le"), "contains a NUL byte (line 1, column 2)"),
    (VALID + b"\x00\x01\x02binary", "contains a NUL byte"),
    (b"kind: Cluster\nmetadata: {name: \x1b[31m}\n", "control character U+001B at line 2, column 18"),
    (b"\x89PNG\r\n\x1a\n", "is not UTF-8 text"),
])
def test_not_text(tmp_path: Path, data: bytes, words: str) -> None:
    (problem,) = problems_of(tmp_path, data)
    assert problem.startswith(f"{tmp_path / 'cluster.yaml'}: ") and words in problem


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_bytes(codecs.BOM_UTF8 + VALID)
    assert load(path).cluster.name == "home"


def test_size_is_capped_and_reading_stops_there(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, VALID + b"#" * MAX_BYTES)
    assert f"larger than {MAX_BYTES // 1024} KiB" in problem
    with pytest.raises(SpecError) as info:
        load("/dev/zero")  # endless: only MAX_BYTES + 1 are read
    assert info.value.problems == [f"/dev/zero: larger than {MAX_BYTES // 1024} KiB: not a cluster spec"]


@pytest.mark.parametrize("doc, words", [
    ("? [a, b]\n: c\n", "a mapping key must be a plain value"),
    ("? {a: b}\n: c\n", "a mapping key must be a plain value"),
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), f"nested more than {MAX_DEPTH} levels deep"),
    ("[" * 100_000 + "]" * 100_000, "nest"),  # RecursionError before
    ("a:\n" + "".join(" " * i + "- \n" for i in range(1, 60)), f"nested more than {MAX_DEPTH} levels deep"),
    ("a: &a [*a]\n", "used inside its own anchor"),
    ("a: &a {b: *a}\n", "used inside its own anchor"),
    ("\n".join(["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
               + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]),
     f"more than {MAX_NODES} values"),  # "billion laughs"
    ("- x\n" * (MAX_NODES + 1), f"more than {MAX_NODES} values"),
    ("a: *nowhere\n", "found undefined alias"),
    ("port: " + "9" * 5000 + "\n", "cannot be read"),  # int() refuses more than 4300 digits
    ("date: 2024-13-45\n", "cannot be read"),
    ("a: 1\n---\nb: 2\n", "expected a single document"),
    ("a: 1\na: 2\n", "duplicate key 'a'"),
    ("a: !!python/object:os.system echo\n", "could not determine a constructor"),
    ("a: b: c\n", "YAML syntax error at line 1"),
])
def test_hostile_yaml_is_one_problem(doc: str, words: str) -> None:
    cluster, problems = parse(doc)
    assert cluster is None
    (problem,) = problems
    assert problem.path == "(document)" and words in problem.message, problem.message


@pytest.mark.parametrize("doc, got", [("", "null"), ("# nothing\n", "null"), ("- a\n", "a list"),
                                      ("42\n", "an integer"), ("a\n", "a string")])
def test_not_a_mapping(doc: str, got: str) -> None:
    _, problems = parse(doc)
    assert [p.message for p in problems] == [f"expected a mapping with apiVersion, kind, metadata and spec, got {got}"]


def test_many_problems_are_listed_up_to_a_limit(tmp_path: Path) -> None:
    nodes = "".join(f"    - {{name: N{i}, address: 10.0.{i // 250}.{i % 250 + 1}, roles: [worker]}}\n"
                    for i in range(300))
    doc = "apiVersion: homelab-ctl/v1alpha1\nkind: Cluster\nmetadata: {name: t}\nspec:\n  nodes:\n" + nodes
    problems = problems_of(tmp_path, doc.encode())
    assert len(problems) == 101 and problems[-1].endswith("more problems not shown")
