"""Identifiers: node ids, dimensions, metrics and sources carry no control characters.

Services build keys from identifiers (ingest hashes them joined; the allocator
joined them with U+001F until its keys became JSON arrays, decision record 0210), and
a control character inside an id once made every recompute fail while health still
answered 200. Every edge refuses such ids: the models validate them
(`identifier_type.Identifier`), file readers name the line, and mapped node ids that
a template renders from a tag value are rejected per row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "CONTROL_CHARACTERS",
    "describe_error",
    "identifier_problem",
]

# C0 controls and DEL; the same class in Python's and pydantic-core's (Rust) regex.
CONTROL_CHARACTERS: Final = r"[\x00-\x1f\x7f]"
_CONTROL: Final = re.compile(CONTROL_CHARACTERS)


def identifier_problem(text: str) -> str | None:
    """Why `text` cannot be an identifier, or None when it can."""
    found = _CONTROL.search(text)
    if found is None:
        return None
    return (
        f"control character U+{ord(found.group()):04X} at position {found.start()} "
        f"in {text!r}"
    )


def describe_error(err: Mapping[str, Any]) -> str:
    """One pydantic error as `loc.path: message`, saying which control character."""
    where = ".".join(str(part) for part in err["loc"])
    message = str(err["msg"])
    if err["type"] == "string_pattern_mismatch" and isinstance(err["input"], str):
        message = identifier_problem(err["input"]) or message
    return f"{where}: {message}" if where else message
