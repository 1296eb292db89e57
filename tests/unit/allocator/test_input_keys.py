"""The input tables' changelog codec: keys as the changelog holds them, parsed back.

Keys and usage entries are structured, not joined strings: whatever a source, metric
or label holds (the edge refuses control characters, the codec must not need it to),
two different keys never collide and every key parses back. Keys written before
issue 16 (joined with U+001F) still parse.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    assert bucket_key(DAY, "bill", 7) == '["2025-03-10","bill","bucket",7]'
    assert delta_key(DAY, "bill", 3) == '["2025-03-10","bill","delta",3]'


def test_keys_of_the_legacy_form_still_parse() -> None:
    assert parse_key("2025-03-10\x1fbill\x1f#7") == TableKey(
        DAY, "bill", KeyKind.BUCKET, 7, legacy=True
    )
    assert parse_key("2025-03-10\x1fbill\x1f~0000000003") == TableKey(
        DAY, "bill", KeyKind.DELTA, 3, legacy=True
    )
    # A source holding the old separator (accepted before issue 16): the last one
    # ends the source.
    assert parse_key("2025-03-10\x1fa\x1fb\x1f#7").source == "a\x1fb"


DAYS = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
HOSTILE = st.text(
    alphabet=st.sampled_from(["a", "#", "~", "[", "]", '"', "\\", ",", ":", "{", "}"])
    | st.characters(exclude_categories=["Cs"]),  # a topic's key is UTF-8
    max_size=12,
)
NUMBERS = st.integers(min_value=0, max_value=10**12)


@given(DAYS, HOSTILE, NUMBERS, st.booleans())
def test_any_source_round_trips(day: date, source: str, n: int, delta: bool) -> None:
    key = delta_key(day, source, n) if delta else bucket_key(day, source, n)
    kind = KeyKind.DELTA if delta else KeyKind.BUCKET
    assert parse_key(key) == TableKey(day, source, kind, n)


@given(DAYS, HOSTILE, HOSTILE, NUMBERS, NUMBERS)
def test_different_keys_never_collide(
    day: date, a: str, b: str, m: int, n: int
) -> None:
    if (a, m) != (b, n):
        assert bucket_key(day, a, m) != bucket_key(day, b, n)
        assert delta_key(day, a, m) != delta_key(day, b, n)
    assert bucket_key(day, a, m) != delta_key(day, b, n)


@given(HOSTILE)
def test_any_other_text_is_refused_with_a_value_error(text: str) -> None:
    try:
        key = parse_key(text)
    except ValueError as error:
        assert "not a bucket or delta key" in str(error)
    else:  # text that happens to be a key: it is written back as it was
        written = (bucket_key if key.kind is KeyKind.BUCKET else delta_key)(
            key.day, key.source, key.number
        )
        assert key.legacy or written == text


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
    for key in (
        "2025-03-10\x1fbill\x1fn1",
        '["2025-03-10","bill","node",1]',
        '["2025-03-10","bill","bucket",-1]',
        '["2025-03-10","bill","bucket",true]',
        '["2025-03-10","bill","bucket"]',
        '["2025-13-10","bill","bucket",1]',
        '["2025-03-10",7,"bucket",1]',
        '["2025-03-10","bill",["bucket"],1]',
        "[",
        "",
    ):
        with pytest.raises(ValueError, match="not a bucket or delta key"):
            parse_key(key)


def test_a_node_keeps_its_bucket_across_processes() -> None:
    assert bucket_of("db") == 3824466984 % BUCKETS  # zlib.crc32(b"db")
    assert {bucket_of(f"n{i}") for i in range(2000)} == set(range(BUCKETS))


def test_a_bucket_value_round_trips() -> None:
    nodes = {"db": {"compute": 5}, "gone": None}
    encoded = encode_bucket(nodes)
    assert encoded == b'{"db":{"compute":5},"gone":null}'
    assert decode_bucket(encoded) == decode_bucket(encoded.decode()) == nodes
