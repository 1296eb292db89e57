"""Typed offsets: parsed from and formatted to the text the tables hold, unchanged."""

from __future__ import annotations

import pytest

from allocator.offsets import DayOffsets, InputOffset, OriginOffset

STORED = {"inputs": "3/1207", "origin": "ns.finops.usage.v1/5/88"}


def test_offsets_round_trip_through_the_text_the_tables_hold() -> None:
    offsets = DayOffsets.from_json(STORED)
    assert offsets == DayOffsets(
        InputOffset(3, 1207), OriginOffset("ns.finops.usage.v1", 5, 88)
    )
    assert offsets.to_json() == STORED
    assert list(offsets.to_json()) == ["inputs", "origin"]  # stored JSON key order


def test_each_offset_parses_what_it_formats() -> None:
    assert InputOffset.parse(str(InputOffset(0, 42))) == InputOffset(0, 42)
    origin = OriginOffset("finops.node-costs.v1", 11, 0)
    assert str(origin) == "finops.node-costs.v1/11/0"
    assert OriginOffset.parse(str(origin)) == origin


def test_marks_name_each_topic_partition_with_its_offset() -> None:
    assert DayOffsets.from_json(STORED).to_marks() == {
        "inputs:3": 1207,
        "origin:ns.finops.usage.v1/5": 88,
    }


@pytest.mark.parametrize("text", ["3", "3/x", "a/b/c", ""])
def test_text_that_is_not_an_input_offset_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        InputOffset.parse(text)


@pytest.mark.parametrize("text", ["topic/1", "topic/x/2", "3/1207x"])
def test_text_that_is_not_an_origin_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        OriginOffset.parse(text)
