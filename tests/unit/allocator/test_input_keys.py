"""The input tables' changelog codec: keys as the changelog holds them, parsed back."""

from __future__ import annotations

from datetime import date

import pytest

from allocator.inputs.keys import (
    BUCKETS,
    KeyKind,
    TableKey,
    bucket_key,
    bucket_of,
    decode_bucket,
    delta_key,
    encode_bucket,
    parse_key,
)

DAY = date(2025, 3, 10)


def test_keys_are_written_as_the_changelog_holds_them() -> None:
    assert bucket_key(DAY, "bill", 7) == "2025-03-10\x1fbill\x1f#7"
    assert delta_key(DAY, "bill", 3) == "2025-03-10\x1fbill\x1f~0000000003"


def test_bucket_and_delta_keys_parse_back() -> None:
    assert parse_key(bucket_key(DAY, "bill", 63)) == TableKey(
        DAY, "bill", KeyKind.BUCKET, 63
    )
    assert parse_key(delta_key(DAY, "metrics", 12)) == TableKey(
        DAY, "metrics", KeyKind.DELTA, 12
    )


def test_buckets_sort_before_deltas() -> None:
    assert KeyKind.BUCKET < KeyKind.DELTA


def test_a_key_naming_one_node_is_refused() -> None:
    with pytest.raises(ValueError, match="not a bucket or delta key"):
        parse_key("2025-03-10\x1fbill\x1fn1")


def test_a_node_keeps_its_bucket_across_processes() -> None:
    assert bucket_of("db") == 3824466984 % BUCKETS  # zlib.crc32(b"db")
    assert {bucket_of(f"n{i}") for i in range(2000)} == set(range(BUCKETS))


def test_a_bucket_value_round_trips() -> None:
    nodes = {"db": {"compute": 5}, "gone": None}
    encoded = encode_bucket(nodes)
    assert encoded == b'{"db":{"compute":5},"gone":null}'
    assert decode_bucket(encoded) == decode_bucket(encoded.decode()) == nodes
