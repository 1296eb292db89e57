"""Usage metrics in: CSV or JSON rows `node,date,metric,value[,labels]`."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

from finops.domain.focus.jsonarray import iter_json_array
from finops.domain.focus.rejects import Reject
from finops.domain.identifiers import identifier_problem
from finops.domain.periods import day_problem
from finops.domain.records import UsageRecord
from finops.errors import InputError

__all__ = [
    "USAGE_COLUMNS",
    "UsageRead",
    "combine_usage",
    "parse_usage_rows",
    "read_combined_usage",
    "read_usage",
    "usage_value_problem",
]

USAGE_COLUMNS: Final = ("node", "date", "metric", "value")
_JSON_SUFFIXES: Final = (".json", ".jsonl", ".ndjson")


@dataclass(frozen=True, slots=True)
class UsageRead:
    """A usage file read and combined: one record per (node, date, metric, labels),
    the refused rows, and how many rows there were."""

    records: list[UsageRecord]
    rejects: list[Reject]
    rows_read: int


def read_usage(path: Path) -> tuple[list[UsageRecord], list[Reject]]:
    """Read a usage file (CSV, JSON array or JSON lines); bad rows become rejects."""
    return parse_usage_rows(_rows(path), file=str(path))


def read_combined_usage(path: Path) -> UsageRead:
    """Read a usage file row by row, combining as it goes: memory grows with the
    distinct (node, date, metric, labels), not with the rows (CSV, JSON lines and
    JSON arrays all stream)."""
    rejects: list[Reject] = []
    count = 0

    def good() -> Iterator[UsageRecord]:
        nonlocal count
        for line, row in _rows(path):
            count += 1
            try:
                yield _to_record(row)
            except ValueError as exc:
                rejects.append(Reject(str(path), line, str(exc)))

    records = combine_usage(good())
    return UsageRead(records, rejects, count)


def _rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    if not path.is_file():
        raise InputError("no such file", file=str(path))
    if path.suffix.lower() in _JSON_SUFFIXES:
        return _json_rows(path)
    return _csv_rows(path)


def parse_usage_rows(
    rows: Iterable[tuple[int, Mapping[str, Any]]], *, file: str
) -> tuple[list[UsageRecord], list[Reject]]:
    """Turn numbered rows into UsageRecords (one per good row); bad rows: Rejects.

    Rows repeating a (node, date, metric, labels) are kept here; `combine_usage`
    sums them before they are stored, as `finops allocate` sums them.
    """
    records: list[UsageRecord] = []
    rejects: list[Reject] = []
    for line, row in rows:
        try:
            records.append(_to_record(row))
        except ValueError as exc:
            rejects.append(Reject(file, line, str(exc)))
    return records, rejects


def combine_usage(records: Iterable[UsageRecord]) -> list[UsageRecord]:
    """One record per (node, date, metric, labels), values summed; first-seen order."""
    combined: dict[tuple[str, date, str, str], UsageRecord] = {}
    for record in records:
        key = (record.node, record.date, record.metric, _labels_key(record.labels))
        seen = combined.get(key)
        combined[key] = (
            record
            if seen is None
            else seen.model_copy(update={"value": seen.value + record.value})
        )
    return list(combined.values())


def usage_value_problem(value: float) -> str | None:
    """Why a usage figure is unusable (shares need finite, non-negative usage)."""
    if not math.isfinite(value):
        return "is not a finite number"
    if value < 0:
        return "is negative"
    return None


def _labels_key(labels: Mapping[str, Any]) -> str:
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))


def _to_record(row: Mapping[str, Any]) -> UsageRecord:
    """One usage record; raises ValueError saying what is wrong."""
    node, metric = (
        str(row.get("node") or "").strip(" "),
        str(row.get("metric") or "").strip(" "),
    )
    if not node or not metric:
        raise ValueError("missing node or metric")
    for name, text in (("node", node), ("metric", metric)):
        problem = identifier_problem(text)
        if problem:
            raise ValueError(f"{name}: {problem}")
    try:
        day = date.fromisoformat(str(row.get("date") or "").strip())
    except ValueError:
        raise ValueError(f"not a date: {row.get('date')!r}") from None
    problem = day_problem(day)
    if problem:
        raise ValueError(f"date {problem}")
    value = _to_value(row.get("value"))
    return UsageRecord(
        node=node, date=day, metric=metric, value=value, labels=_labels(row)
    )


def _to_value(raw: Any) -> float:
    """A finite number."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"value is not a number: {raw!r}") from None
    problem = usage_value_problem(value)
    if problem:
        raise ValueError(f"value {problem}: {raw!r}")
    return value


def _labels(row: Mapping[str, Any]) -> dict[str, Any]:
    """Labels: a JSON object (or its text); empty when absent."""
    labels = row.get("labels")
    if labels in (None, ""):
        return {}
    if isinstance(labels, str):
        try:
            labels = json.loads(labels)
        except json.JSONDecodeError:
            raise ValueError("labels are not JSON") from None
    if not isinstance(labels, dict):
        raise ValueError("labels are not a JSON object")
    return labels


def _csv_rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """CSV rows with their line numbers (the header is line 1)."""
    with path.open(newline="", encoding="utf-8-sig") as data:
        reader = csv.DictReader(data)
        missing = [c for c in USAGE_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise InputError(f"missing columns: {', '.join(missing)}", file=str(path))
        for row in reader:
            yield reader.line_num, row


def _json_rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """JSON array elements (numbered from 1, read one at a time) or JSON lines
    (numbered by line, read one at a time)."""
    with path.open(encoding="utf-8") as data:
        first = data.read(4096)
        data.seek(0)
        if first.lstrip().startswith("["):
            for number, _, item in iter_json_array(data, file=str(path)):
                yield number, _as_mapping(item)
            return
        for number, line in enumerate(data, start=1):
            if line.strip():
                yield number, _json_line(line)


def _json_line(line: str) -> Mapping[str, Any]:
    """One JSON line as a mapping (an empty one if it is not an object)."""
    try:
        return _as_mapping(json.loads(line))
    except json.JSONDecodeError:
        return {}


def _as_mapping(item: Any) -> Mapping[str, Any]:
    """The item if it is a JSON object, else an empty mapping (rejected later)."""
    return item if isinstance(item, dict) else {}
