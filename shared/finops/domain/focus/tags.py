"""Tags: a JSON object in text or a map column; keys stripped, first occurrence wins."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

__all__ = ["has_tags", "parse_tags", "tag_values"]


def _json_tag_pattern(key: str) -> str:
    """RE2 pattern capturing the JSON value of one key (string or bare literal)."""
    return r'"\s*' + re.escape(key) + r'\s*"\s*:\s*(?P<v>"(?:[^"\\]|\\.)*"|[^,}\s]+)'


def tag_values(tags: pa.Array, key: str) -> pa.Array:
    """The value of one tag per row (null when absent); tags are JSON text or a map.

    Keys match ignoring surrounding spaces and the first occurrence wins, so the
    duplicated `" org"` key of some exports is harmless. Each distinct JSON text
    is read once by pattern; texts with escapes or nested values go through the
    JSON parser.
    """
    if pa.types.is_map(tags.type):
        return pc.cast(pc.map_lookup(tags, key, "first"), pa.string())
    encoded = pc.dictionary_encode(pc.cast(tags, pa.string()))
    distinct = encoded.dictionary
    found = _regex_tag_values(distinct, key)
    tricky = pc.or_(
        pc.fill_null(pc.match_substring(distinct, "\\"), False),
        pc.fill_null(pc.match_substring_regex(found, r"^[\[{]"), False),
    )
    if pc.any(tricky).as_py():
        found = _parse_tricky(distinct, found, np.asarray(tricky, np.bool_), key)
    return pc.take(found, encoded.indices)


def _regex_tag_values(tags: pa.Array, key: str) -> pa.Array:
    """Tag values found by pattern, quotes removed (escapes left as they are)."""
    found = pc.extract_regex(tags, _json_tag_pattern(key))
    raw = pc.if_else(pc.is_valid(found), pc.struct_field(found, [0]), None)
    quoted = pc.starts_with(raw, '"')
    return pc.if_else(quoted, pc.utf8_slice_codeunits(raw, 1, -1), raw)


def _parse_tricky(
    texts: pa.Array, found: pa.Array, tricky: NDArray[np.bool_], key: str
) -> pa.Array:
    """Replace the values of the tricky texts with what the JSON parser reads."""
    values = found.to_pylist()
    for i in np.flatnonzero(tricky):
        values[i] = parse_tags(texts[i].as_py()).get(key)
    return pa.array(values, pa.string())


def has_tags(tags: pa.Array) -> pa.Array:
    """Whether each row carries at least one tag."""
    if pa.types.is_map(tags.type):
        entries = pa.struct([tags.type.key_field, tags.type.item_field])
        lengths = pc.list_value_length(pc.cast(tags, pa.list_(entries)))
        return pc.fill_null(pc.greater(lengths, 0), False)
    empty = pc.match_substring_regex(pc.cast(tags, pa.string()), r"^\s*\{\s*\}\s*$")
    return pc.fill_null(pc.invert(empty), False)


def parse_tags(value: object) -> dict[str, str]:
    """Tags of one row as a dict; keys stripped, first occurrence wins.

    `value` is JSON text or the key/value pairs of a map column; a nested value
    becomes its JSON text.
    """
    if value is None:
        return {}
    pairs = value if isinstance(value, list) else _json_pairs(str(value))
    tags: dict[str, str] = {}
    for key, item in pairs:
        text = item if isinstance(item, str) else json.dumps(_plain(item))
        tags.setdefault(str(key).strip(), text)
    return tags


class _Pairs(list[tuple[str, Any]]):
    """The key/value pairs of one JSON object, in order, duplicates kept."""


def _plain(value: Any) -> Any:
    """Nested JSON with objects as dicts again (first occurrence of a key wins)."""
    if isinstance(value, _Pairs):
        plain: dict[str, Any] = {}
        for key, item in value:
            plain.setdefault(key, _plain(item))
        return plain
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _json_pairs(text: str) -> list[tuple[str, Any]]:
    """Key/value pairs of a JSON object in order, duplicates kept."""
    try:
        pairs = json.loads(text, object_pairs_hook=_Pairs)
    except json.JSONDecodeError:
        return []
    return pairs if isinstance(pairs, _Pairs) else []
