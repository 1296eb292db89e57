"""`Identifier`, the pydantic field type of node ids, dimensions, metrics and sources.

Apart from `identifiers` (the plain checks and messages) so that the readers and the
engine, which use only those, do not import pydantic (decision 0360).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

__all__ = ["Identifier"]

# The pattern's class is `identifiers.CONTROL_CHARACTERS` negated (pydantic-core's Rust
# regex and Python's `re` read it alike).
Identifier = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]*$")]
"""A string with no control character (empty stays allowed where it was)."""
