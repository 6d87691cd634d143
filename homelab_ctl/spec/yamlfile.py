"""Reading a spec file safely: bounded size, UTF-8 only, bounded depth and alias expansion, duplicate
keys refused (PyYAML silently keeps the last), merge keys (<<) understood, and line numbers kept.

libyaml (PyYAML's C parser) is used when present: the pure-Python one takes seconds per 100 KiB.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.resolver import Resolver

from homelab_ctl.spec.show import quote

MAX_BYTES = 512 << 10  # a 100-node spec is about 8 KiB
MAX_DEPTH = 32  # the spec itself is at most 8 levels deep
MAX_NODES = 20_000  # YAML values after expanding aliases (a "billion laughs" file expands to billions)
_MERGE = "tag:yaml.org,2002:merge"
# Characters YAML does not allow in a stream (tab, LF, CR and NEL are fine).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_WIDE_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
              (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


class InputError(Exception):
    """The file cannot be a spec at all (too large, not text); message without the file name."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class YamlSyntaxError(Exception):
    def __init__(self, line: int, column: int, problem: str) -> None:
        super().__init__(f"line {line}, column {column}: {problem}")
        self.line = line
        self.column = column
        self.problem = problem


def read(path: Path) -> str:
    """The text of a spec file, at most MAX_BYTES of UTF-8 (read no further: -f /dev/zero ends)."""
    with path.open("rb") as fh:
        data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise InputError(f"larger than {MAX_BYTES // 1024} KiB: not a cluster spec")
    return decode(data)


def _where(data: bytes, offset: int) -> str:
    """'line L, column C' of a byte offset (columns count bytes: the text may not decode)."""
    start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    return f"line {line}, column {offset - start + 1}"


def decode(data: bytes) -> str:
    for bom, name in _WIDE_BOMS:
        if data.startswith(bom):
            raise InputError(f"is {name} text: save it as UTF-8")
    data = data.removeprefix(codecs.BOM_UTF8)  # allowed by YAML; editors on Windows write it
    nul = data.find(b"\0")
    if nul >= 0:
        raise InputError(f"contains a NUL byte ({_where(data, nul)}): a binary or UTF-16 file, not a YAML spec")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"is not UTF-8 text: byte 0x{data[exc.start]:02x} at {_where(data, exc.start)} "
                         "(save it as UTF-8)") from None
    bad = _FORBIDDEN.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - text.rfind("\n", 0, bad.start())
        raise InputError(f"contains the control character U+{ord(bad.group()):04X} at line {line}, column {column}, "
                         "which YAML does not allow")
    return text


class _Constructor(SafeConstructor):
    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError, TypeError) as exc:  # e.g. a 5000-digit int, 2024-13-45
            value = quote(node.value) if isinstance(node, yaml.ScalarNode) else "this value"
            raise ConstructorError(None, None, f"{value} cannot be read ({exc})", node.start_mark) from None

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue  # merged keys may be overridden: that is what << is for
                if not isinstance(key_node, yaml.ScalarNode):
                    raise ConstructorError(None, None, "a mapping key must be a plain value, not a list or mapping",
                                           key_node.start_mark)
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise ConstructorError(None, None, f"duplicate key {quote(key)}", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]


if yaml.__with_libyaml__:
    from yaml.cyaml import CParser  # type: ignore[attr-defined]

    class _Loader(CParser, _Constructor, Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _Constructor.__init__(self)
            Resolver.__init__(self)

    def _events(text: str) -> Any:
        return CParser(text)
else:  # pragma: no cover - PyYAML without libyaml
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Loader(Reader, Scanner, Parser, Composer, _Constructor, Resolver):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)
            _Constructor.__init__(self)
            Resolver.__init__(self)

    def _events(text: str) -> Any:
        return yaml.SafeLoader(text)


def _check_shape(text: str) -> None:
    """Depth and expanded size from the event stream, before anything is built (no recursion here)."""
    parser = _events(text)
    depth = nodes = 0
    sizes: dict[str, int] = {}
    opened: list[tuple[str | None, int]] = []
    while True:
        event = parser.get_event()
        if isinstance(event, yaml.StreamEndEvent):
            return
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            nodes += 1
            if depth > MAX_DEPTH:
                raise _error(event, f"nested more than {MAX_DEPTH} levels deep: not a cluster spec")
            opened.append((event.anchor, nodes))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            anchor, start = opened.pop()
            if anchor is not None:
                sizes[anchor] = nodes - start + 1
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _ in opened):
                raise _error(event, f"alias *{event.anchor} is used inside its own anchor (an endless structure)")
            nodes += sizes.get(event.anchor or "", 1)
        if nodes > MAX_NODES:
            raise _error(event, f"more than {MAX_NODES} values (aliases expanded): not a cluster spec")


def _error(event: yaml.Event, problem: str) -> YamlSyntaxError:
    mark = event.start_mark
    return YamlSyntaxError(mark.line + 1, mark.column + 1, problem) if mark else YamlSyntaxError(0, 0, problem)


class Document:
    """Parsed YAML plus the node tree, to tell on which line a spec path is."""

    def __init__(self, text: str) -> None:
        try:
            _check_shape(text)
            loader = _Loader(text)
            try:
                self.node: yaml.Node | None = loader.get_single_node()
                self.data: Any = loader.construct_document(self.node) if self.node is not None else None
            finally:
                loader.dispose()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
            problem = exc.problem or str(exc)
            if problem.startswith("but ") and exc.context:  # "expected a single document ... but found another"
                problem = f"{exc.context}, {problem}"
            raise YamlSyntaxError(line, col, problem) from None
        except yaml.YAMLError as exc:  # reader errors carry no line
            raise YamlSyntaxError(0, 0, str(exc).splitlines()[0]) from None

    def line_of(self, loc: Sequence[int | str]) -> int | None:
        """1-based line of the deepest key or item along loc that exists in the document."""
        node = self.node
        line = node.start_mark.line + 1 if node is not None else None
        for part in loc:
            found = _child(node, part) if node is not None else None
            if found is None:
                break
            anchor, node = found
            line = anchor.start_mark.line + 1
        return line


def _child(node: yaml.Node, part: int | str) -> tuple[yaml.Node, yaml.Node] | None:
    """(node that marks the line, child node) for one step of a path."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == part:
                return key, value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item: yaml.Node = node.value[part]
        return item, item
    return None
