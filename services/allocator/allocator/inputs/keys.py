"""The input tables' changelog codec: bucket and delta keys, orjson values.

Per date and source, BUCKETS bucket keys (`date␟source␟#bucket`) hold the figures of
their nodes; each applied piece writes one delta key (`date␟source␟~seq`) with the
nodes it set (docs/decisions/0005-changelog-buckets-and-deltas.md).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import IntEnum
from typing import Any

import orjson

from allocator.inputs.days import SEP

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
_BUCKET = "#"  # marks a bucket key
_DELTA = "~"  # marks a delta key


class KeyKind(IntEnum):
    """What a key holds; buckets sort (and are read) before deltas."""

    BUCKET = 0
    DELTA = 1


_KINDS = {_BUCKET: KeyKind.BUCKET, _DELTA: KeyKind.DELTA}


@dataclass(frozen=True, slots=True)
class TableKey:
    """A parsed key: a bucket of a date and source, or one of its deltas."""

    day: date
    source: str
    kind: KeyKind
    number: int  # the bucket, or the delta's sequence number


def bucket_of(node: str) -> int:
    """The bucket of a node: stable across processes (unlike hash())."""
    return zlib.crc32(node.encode()) % BUCKETS


def bucket_key(day: date, source: str, bucket: int) -> str:
    """The key of one source's figures for one bucket of nodes on one charge date."""
    return f"{day.isoformat()}{SEP}{source}{SEP}{_BUCKET}{bucket}"


def delta_key(day: date, source: str, seq: int) -> str:
    """The key of one piece's changes to a source's figures on one charge date."""
    return f"{day.isoformat()}{SEP}{source}{SEP}{_DELTA}{seq:010d}"


def parse_key(key: str) -> TableKey:
    """A bucket or delta key back; ValueError for any other key."""
    day, source, rest = key.split(SEP)
    kind = _KINDS.get(rest[:1])
    if kind is None:
        raise ValueError(f"not a bucket or delta key: {key!r}")
    return TableKey(date.fromisoformat(day), source, kind, int(rest[1:]))


def encode_bucket(nodes: Mapping[str, Any]) -> bytes:
    """A bucket's (or delta's) table value: JSON by orjson (busy dates write
    megabytes a second)."""
    return orjson.dumps(nodes)


def decode_bucket(value: bytes | str) -> dict[str, Any]:
    """A table value back: {node: figures}."""
    decoded: dict[str, Any] = orjson.loads(value)
    return decoded
