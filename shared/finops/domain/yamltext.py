"""YAML as every file of ours reads it: safe types, and no aliases.

An alias (`*a`) lets 300 bytes expand to millions of nodes (the "billion laughs"):
a rules file like that blocked ingest's event loop for 2.3 s. No file of ours needs
aliases, so they are refused where the parser meets them, before any expansion.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["AliasRefused", "load_yaml"]


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
