"""The input tables' changelog codec: bucket and delta keys, orjson values.

Per date and source, BUCKETS bucket keys (``["2025-03-10","bill","bucket",7]``) hold
the figures of their nodes; each applied piece writes one delta key
(``["2025-03-10","bill","delta",3]``) with the nodes it set
(docs/decisions/0005-changelog-buckets-and-deltas.md). A key is a JSON array, not a
joined string, so no source can collide with another key or break the parse
(docs/decisions/0210-structured-allocator-keys.md). Keys written before issue 16
(``date␟source␟#bucket``, ``date␟source␟~seq``) still parse, marked ``legacy``.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import IntEnum
from typing import Any, Final

import orjson

__all__ = [
    "BUCKETS",
    "KeyKind",
    "TableKey",
    "bucket_key",
    "bucket_of",
    "decode_bucket",
    "delta_key",
    "encode_bucket",
    "parse_key",
]

BUCKETS = 64  # bucket keys per table, date and source
_LEGACY_SEP: Final = "\x1f"
_LEGACY_MARKS: Final = {"#": "bucket", "~": "delta"}


class KeyKind(IntEnum):
    """What a key holds; buckets sort (and are read) before deltas."""

    BUCKET = 0
    DELTA = 1


_KINDS: Final = {"bucket": KeyKind.BUCKET, "delta": KeyKind.DELTA}


@dataclass(frozen=True, slots=True)
class TableKey:
    """A parsed key: a bucket of a date and source, or one of its deltas."""

    day: date
    source: str
    kind: KeyKind
    number: int  # the bucket, or the delta's sequence number
    legacy: bool = False  # written before issue 16 as a joined string


@functools.lru_cache(maxsize=1 << 16)
def bucket_of(node: str) -> int:
    """The bucket of a node: stable across processes (unlike hash()); cached, as
    every piece applied asks it for each node it sets."""
    return zlib.crc32(node.encode()) % BUCKETS


def bucket_key(day: date, source: str, bucket: int) -> str:
    """The key of one source's figures for one bucket of nodes on one charge date."""
    return orjson.dumps([day.isoformat(), source, "bucket", bucket]).decode()


def delta_key(day: date, source: str, seq: int) -> str:
    """The key of one piece's changes to a source's figures on one charge date."""
    return orjson.dumps([day.isoformat(), source, "delta", seq]).decode()


def parse_key(key: str) -> TableKey:
    """A bucket or delta key back, of today's or the legacy form; ValueError for any
    other key."""
    try:
        if key[:1] == "[":
            day, source, kind, number = orjson.loads(key)
            legacy = False
        else:  # date␟source␟#bucket or date␟source␟~seq
            day, rest = key[:10], key[10:]
            if rest[:1] != _LEGACY_SEP:
                raise ValueError
            source, _, tail = rest[1:].rpartition(_LEGACY_SEP)
            kind, number, legacy = _LEGACY_MARKS.get(tail[:1]), int(tail[1:]), True
        if (
            not isinstance(day, str)
            or not isinstance(source, str)
            or kind not in _KINDS
            or type(number) is not int
            or number < 0
        ):
            raise ValueError
        return TableKey(date.fromisoformat(day), source, _KINDS[kind], number, legacy)
    except (ValueError, TypeError):
        raise ValueError(f"not a bucket or delta key: {key!r}") from None


def encode_bucket(nodes: Mapping[str, Any]) -> bytes:
    """A bucket's (or delta's) table value: JSON by orjson (busy dates write
    megabytes a second)."""
    return orjson.dumps(nodes)


def decode_bucket(value: bytes | str) -> dict[str, Any]:
    """A table value back: {node: figures}."""
    decoded: dict[str, Any] = orjson.loads(value)
    return decoded
