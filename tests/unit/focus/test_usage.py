"""Usage metrics from CSV and JSON files; bad rows are rejected with their line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from finops.domain.focus.rejects import Reject
from finops.domain.focus.usage import (
    combine_usage,
    parse_usage_rows,
    read_combined_usage,
    read_usage,
)
from finops.errors import InputError
from tests.unit.focus.conftest import DATA


def test_usage_csv_with_labels_and_rejects() -> None:
    records, rejects = read_usage(DATA / "usage.csv")
    assert [(r.node, r.date, r.metric, r.value) for r in records] == [
        ("checkout", date(2025, 1, 5), "requests", 1200.0),
        ("search", date(2025, 1, 5), "requests", 800.0),
    ]
    assert records[0].labels == {"region": "eu"}
    file = str(DATA / "usage.csv")
    assert rejects == [
        Reject(file, 4, "not a date: '2025-13-05'"),
        Reject(file, 5, "value is not a number: 'many'"),
    ]


def test_usage_json_lines() -> None:
    records, rejects = read_usage(DATA / "usage.jsonl")
    assert [(r.node, r.value) for r in records] == [("checkout", 12.5)]
    assert rejects == [Reject(str(DATA / "usage.jsonl"), 2, "missing node or metric")]


def test_usage_json_array(tmp_path: Path) -> None:
    path = tmp_path / "usage.json"
    path.write_text(
        '[{"node": "a", "date": "2025-01-01", "metric": "m", "value": "2"}]'
    )
    records, rejects = read_usage(path)
    assert records[0].value == 2.0 and rejects == []


def test_rows_from_a_request_body_are_parsed_the_same_way() -> None:
    rows = [(1, {"node": "a", "date": "2025-01-01", "metric": "m", "value": "inf"})]
    records, rejects = parse_usage_rows(rows, file="upload")
    assert records == [] and rejects == [
        Reject("upload", 1, "value is not a finite number: 'inf'")
    ]


def test_a_usage_csv_without_the_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text("node,day,value\n")
    with pytest.raises(InputError, match="missing columns: date, metric"):
        read_usage(path)


def test_reading_combined_streams_rows_into_one_record_per_key(tmp_path: Path) -> None:
    lines = tmp_path / "usage.jsonl"
    lines.write_text(
        '{"node": "app", "date": "2025-03-01", "metric": "cpu", "value": 1.5}\n'
        "\n"
        '{"node": "app", "date": "2025-03-01", "metric": "cpu", "value": 2}\n'
        '{"node": "app", "date": "2025-03-01", "metric": "cpu", "value": -1}\n'
        '{"node": "db", "date": "2025-03-02", "metric": "cpu", "value": 4,'
        ' "labels": {"env": "prod"}}\n'
    )
    read = read_combined_usage(lines)
    assert read.rows_read == 4
    assert [(r.node, r.value, r.labels) for r in read.records] == [
        ("app", 3.5, {}),
        ("db", 4.0, {"env": "prod"}),
    ]
    assert [(r.line, r.reason) for r in read.rejects] == [(4, "value is negative: -1")]
    records, rejects = read_usage(lines)
    assert combine_usage(records) == read.records and rejects == read.rejects
