"""YAML loading that keeps line numbers and refuses duplicate keys (PyYAML silently keeps the last)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml


class _Loader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class YamlSyntaxError(Exception):
    def __init__(self, line: int, column: int, problem: str) -> None:
        super().__init__(f"line {line}, column {column}: {problem}")
        self.line = line
        self.column = column
        self.problem = problem


class Document:
    """Parsed YAML plus the node tree, to tell on which line a spec path is."""

    def __init__(self, text: str) -> None:
        loader = _Loader(text)
        try:
            self.node: yaml.Node | None = loader.get_single_node()
            self.data: Any = loader.construct_document(self.node) if self.node is not None else None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
            raise YamlSyntaxError(line, col, exc.problem or str(exc)) from None
        finally:
            loader.dispose()

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
