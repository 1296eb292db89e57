"""Usage metrics from CSV and JSON files; bad rows are rejected with their line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from finops.domain.focus.rejects import Reject
from finops.domain.focus.usage import parse_usage_rows, read_usage
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
