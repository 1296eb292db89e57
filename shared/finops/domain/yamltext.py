"""YAML as every file of ours reads it: safe types, and no aliases.

An alias (`*a`) lets 300 bytes expand to millions of nodes (the "billion laughs"):
a rules file like that blocked ingest's event loop for 2.3 s. No file of ours needs
aliases, so they are refused where the parser meets them, before any expansion.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import yaml

__all__ = ["AliasRefused", "load_yaml", "load_yaml_located"]


class AliasRefused(yaml.YAMLError):
    """The text uses a YAML alias; the message says where."""


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that stops at the first alias event."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.current_event  # check_event has just parsed it
            mark = event.start_mark
            raise AliasRefused(
                f"YAML aliases are not allowed (line {mark.line + 1}, "
                f"column {mark.column + 1}: *{event.anchor})"
            )
        return super().compose_node(parent, index)


def load_yaml(text: str) -> Any:
    """Parse YAML text with safe types; raises yaml.YAMLError, AliasRefused included."""
    return yaml.load(text, Loader=_NoAliasLoader)


class _CoreBoolLoader(_NoAliasLoader):
    """Booleans as YAML 1.2 reads them: only true and false, so `on:` stays a key."""


_CoreBoolLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _NoAliasLoader.yaml_implicit_resolvers.items()
}
_CoreBoolLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def load_yaml_located(
    text: str,
) -> tuple[Any, Callable[[Sequence[str | int]], int | None]]:
    """Parse like load_yaml (but with YAML 1.2 booleans: `on`, `yes`, `no` are text),
    and a function giving the line (1-based) of the value at a path of keys and
    indexes (the deepest part of it the text holds)."""
    loader = _CoreBoolLoader(text)
    try:
        root = loader.get_single_node()
        data = None if root is None else loader.construct_document(root)
    finally:
        loader.dispose()

    def line_of(path: Sequence[str | int]) -> int | None:
        node, line = root, None
        for part in path:
            if node is None:
                break
            line = node.start_mark.line + 1
            node = _child(node, part)
        if node is not None:
            line = node.start_mark.line + 1
        return line

    return data, line_of


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return value  # type: ignore[no-any-return]
    sequence = isinstance(node, yaml.SequenceNode) and isinstance(part, int)
    if sequence and 0 <= int(part) < len(node.value):
        return node.value[part]  # type: ignore[no-any-return]
    return None
