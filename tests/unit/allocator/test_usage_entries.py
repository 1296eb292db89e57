"""A usage row's entry among a node's usage on a date: structured, not joined.

The entry is the key of a JSON object in the changelog, so it is a str; the metric is
counted, not delimited, so no metric or label can make two rows share an entry or
break the parse (the edge refuses control characters; the codec must not need it to).
Entries written before issue 16 (day␟metric␟labels) still parse and are rewritten.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocator.inputs.columns import parse_entry
from allocator.inputs.days import entry_parts, normal_entry, usage_entry
from finops.domain.records import UsageRecord

DAY = date(2025, 3, 10)
TEXT = st.text(
    alphabet=st.sampled_from(["a", "1", ":", "{", "}", '"', "\x1f", "\x00"])
    | st.characters(exclude_categories=["Cs"]),
    max_size=12,
)
LABELS = st.dictionaries(TEXT, TEXT | st.integers(), max_size=3)
DAYS = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))


def _row(day: date, metric: str, labels: dict[str, Any]) -> UsageRecord:
    # Built without validation: the edge refuses control characters, the codec
    # must be right without that.
    return UsageRecord.model_construct(
        node="n", date=day, metric=metric, value=1.0, labels=labels
    )


def _labels(labels: dict[str, Any]) -> str:
    return json.dumps(labels, sort_keys=True, separators=(",", ":")) if labels else "{}"


def test_an_entry_is_day_counted_metric_and_labels() -> None:
    entry = usage_entry(_row(DAY, "cpu", {"team": "a"}))
    assert entry == '2025-03-103:cpu{"team":"a"}'
    assert entry_parts(entry) == ("2025-03-10", "cpu", '{"team":"a"}')
    assert parse_entry(entry) == (20157, "cpu", '{"team":"a"}')


@given(DAYS, TEXT, LABELS)
def test_any_metric_and_labels_round_trip(
    day: date, metric: str, labels: dict[str, Any]
) -> None:
    entry = usage_entry(_row(day, metric, labels))
    assert entry[:10] == day.isoformat()  # a usage scope filters on it
    assert entry_parts(entry) == (day.isoformat(), metric, _labels(labels))
    assert normal_entry(entry) == entry


@given(DAYS, TEXT, LABELS, TEXT, LABELS)
def test_different_rows_never_share_an_entry(
    day: date, a: str, la: dict[str, Any], b: str, lb: dict[str, Any]
) -> None:
    if (a, _labels(la)) != (b, _labels(lb)):
        assert usage_entry(_row(day, a, la)) != usage_entry(_row(day, b, lb))


def test_entries_of_the_legacy_form_parse_and_are_rewritten() -> None:
    legacy = '2025-03-10\x1fcpu\x1f{"team":"a"}'
    assert entry_parts(legacy) == ("2025-03-10", "cpu", '{"team":"a"}')
    assert normal_entry(legacy) == usage_entry(_row(DAY, "cpu", {"team": "a"}))
    # A metric holding the old separator (accepted before issue 16): labels are
    # JSON, which escapes U+001F, so the last separator ends the metric.
    assert entry_parts("2025-03-10\x1fa\x1fb\x1f{}") == ("2025-03-10", "a\x1fb", "{}")


@given(DAYS, TEXT, LABELS)
def test_any_legacy_entry_parses_and_is_rewritten(
    day: date, metric: str, labels: dict[str, Any]
) -> None:
    legacy = f"{day.isoformat()}\x1f{metric}\x1f{_labels(labels)}"
    assert normal_entry(legacy) == usage_entry(_row(day, metric, labels))


@pytest.mark.parametrize(
    "text",
    ["", "2025-03-10", "2025-03-10x:cpu{}", "2025-03-109:cpu{}", "2025-03-10\x1fcpu"],
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a usage entry"):
        entry_parts(text)
