"""Vectorised parsing of costs, timestamps and tags."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from finops.domain.focus.parsing import to_micros_array, to_utc_array
from finops.domain.focus.tags import has_tags, parse_tags, tag_values


def test_costs_become_exact_micros_rounded_half_to_even() -> None:
    values = pa.array(["1.5", "0.0000005", "0.0000015", "-0.0000025", "1e-3", "2"])
    micros, bad = to_micros_array(values)
    assert micros.to_pylist() == [1_500_000, 0, 2, -2, 1000, 2_000_000]
    assert not bad.any()


def test_costs_that_are_not_numbers_are_flagged_and_the_rest_kept() -> None:
    micros, bad = to_micros_array(pa.array(["1", "abc", None, "NaN", "3.25"]))
    assert micros.to_pylist() == [1_000_000, None, None, None, 3_250_000]
    assert bad.tolist() == [False, True, False, True, False]


def test_costs_with_many_decimals_stay_exact() -> None:
    micros, bad = to_micros_array(pa.array(["0.1234565000000000000001", "7.00000050"]))
    assert micros.to_pylist() == [123_457, 7_000_000]
    assert not bad.any()


def test_float_and_decimal_columns_are_read_by_their_decimal_value() -> None:
    floats, _ = to_micros_array(pa.array([0.1, 8e-07, -2.5], pa.float64()))
    assert floats.to_pylist() == [100_000, 1, -2_500_000]
    decimals = pa.array(["0.00001605990"]).cast(pa.decimal128(20, 11))
    assert to_micros_array(decimals)[0].to_pylist() == [16]


def test_timestamps_in_every_accepted_form_are_utc() -> None:
    values = pa.array(
        [
            "2024-09-01 00:00:00",
            "2024-09-01T00:00:00",
            "2024-09-01T00:00:00Z",
            "2024-09-01T02:00:00+02:00",
            "2024-09-01",
            "2024-09-01 00:00:00 UTC",
            "2024-09-01T00:00:00.000+0000",
        ]
    )
    parsed, bad = to_utc_array(values)
    midnight = datetime(2024, 9, 1, tzinfo=UTC)
    assert [v.astimezone(UTC) for v in parsed.to_pylist()] == [midnight] * 7
    assert not bad.any()


def test_impossible_dates_are_flagged() -> None:
    values = pa.array(["2024-02-30 00:00:00", "2024-09-01 00:00:00", "5/1/25", None])
    parsed, bad = to_utc_array(values)
    assert bad.tolist() == [True, False, True, False]
    assert parsed.null_count == 3


def test_typed_timestamps_without_zone_are_utc() -> None:
    values = pa.array([datetime(2024, 9, 1, 5)], pa.timestamp("s"))
    parsed, _ = to_utc_array(values)
    assert parsed.to_pylist()[0].astimezone(UTC) == datetime(2024, 9, 1, 5, tzinfo=UTC)


def test_duplicated_tag_keys_are_tolerated_and_the_first_wins() -> None:
    text = '{"env": "prod", "org": "trey", " org": "other", "n": 5}'
    assert parse_tags(text) == {"env": "prod", "org": "trey", "n": "5"}
    values = tag_values(pa.array([text, None, "{}", "not json"]), "org")
    assert values.to_pylist() == ["trey", None, None, None]


def test_tags_in_a_map_column() -> None:
    map_type = pa.map_(pa.string(), pa.string())
    tags = pa.array([[("team", "a")], [], None], map_type)
    assert tag_values(tags, "team").to_pylist() == ["a", None, None]
    assert has_tags(tags).to_pylist() == [True, False, False]


def test_rows_with_tags_are_counted_as_tagged() -> None:
    tags = pa.array(['{"a": "1"}', "{ }", None])
    assert has_tags(tags).to_pylist() == [True, False, False]


def test_a_batch_full_of_bad_values_is_screened_in_one_pass() -> None:
    dates = ["2023-02-29 00:00:00", "2024-02-29 23:59:59", "2024-09-01T24:00:00Z"]
    parsed, bad = to_utc_array(pa.array(dates * 20_000 + ["5/1/25", None]))
    assert parsed.null_count == 40_002
    assert bad.tolist()[:3] == [True, False, True]
    assert int(bad.sum()) == 40_001
    micros, bad = to_micros_array(pa.array(["$1,000.00", " 2.5 ", "1.2.3"] * 20_000))
    assert micros.to_pylist()[:3] == [None, 2_500_000, None]
    assert int(bad.sum()) == 40_000


def test_escaped_and_nested_tag_values_are_read_as_json() -> None:
    texts = [
        '{"team": "a\\"b", "x": 1}',
        '{"team": {"lead": "c"}}',
        '{"note": "\\"team\\": no", "team": "d"}',
        '{"team": true}',
    ]
    assert tag_values(pa.array(texts), "team").to_pylist() == [
        'a"b',
        '{"lead": "c"}',
        "d",
        "true",
    ]
