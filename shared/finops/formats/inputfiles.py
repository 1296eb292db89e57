"""Usage (U) CSV files, and the shared row-by-row reader that names bad lines."""

from __future__ import annotations

import csv
import json
from collections.abc import Collection, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
from numpy.typing import NDArray

from finops.domain.allocation.tables import CostTable, UsageTable, to_day_numbers
from finops.domain.days import FIRST_DAY, LAST_DAY, day_problem
from finops.domain.identifiers import identifier_problem
from finops.domain.money import (
    MAX_AMOUNT_UNITS,
    MICROS_PER_UNIT,
    SUM_LIMIT_MICROS,
    parse_decimal,
    to_micros,
)
from finops.errors import InputError, MoneyRangeError
from finops.formats import arrowkernels as ak
from finops.formats.costblocks import CODES
from finops.formats.costblocks import COLUMNS as COST_COLUMNS

if TYPE_CHECKING:  # imported by the row-by-row reader only
    from finops.domain.records import UsageRecord

__all__ = [
    "COST_COLUMNS",
    "USAGE_COLUMNS",
    "all_identifiers",
    "costs_slowly",
    "days_in_range",
    "load_usage",
    "read_header",
]

USAGE_COLUMNS = ("node", "date", "metric", "value")
_FAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


def load_usage(path: Path, known_nodes: Collection[str] | None = None) -> UsageTable:
    """Read U; labels (optional column) are JSON objects."""
    header = read_header(path, USAGE_COLUMNS)
    types = {"date": pa.date32(), "value": pa.float64()}
    types |= dict.fromkeys(("node", "metric", "labels"), CODES)
    try:
        table = _read(path, header, types)
    except _FAST_ERRORS:
        table = None
    if table is None or _has_nulls(table, USAGE_COLUMNS) or _bad_values(table):
        return _usage_slowly(path, known_nodes)
    node, node_ids = _codes(table["node"])
    metric, metrics = _codes(table["metric"])
    if (
        not all_identifiers(node_ids)
        or not all_identifiers(metrics)
        or not days_in_range(table["date"])
    ):
        return _usage_slowly(path, known_nodes)  # names the line
    _check_known(path, table["node"], node_ids, known_nodes)
    label, label_sets = _labels(path, table)
    days = ak.cast(table["date"], pa.int32()).to_numpy().astype(np.int64)
    values = table["value"].to_numpy()
    return UsageTable(node, days, metric, values, label, node_ids, metrics, label_sets)


def read_header(path: Path, required: tuple[str, ...]) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror})", file=str(path)) from None
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"missing column {missing[0]!r}", file=str(path), line=1)
    return header


def _read(path: Path, header: list[str], types: dict[str, pa.DataType]) -> pa.Table:
    wanted = [c for c in header if c in (*COST_COLUMNS, *USAGE_COLUMNS, "labels")]
    column_types = {c: types.get(c, pa.string()) for c in wanted}
    options = pcsv.ConvertOptions(
        column_types=column_types, include_columns=wanted, strings_can_be_null=False
    )
    return pcsv.read_csv(path, convert_options=options)


def _has_nulls(table: pa.Table, columns: tuple[str, ...]) -> bool:
    # An empty string is a length of 0: comparing with "" would convert a Python
    # value, and Arrow's first conversion imports dateutil (~0.02 s, holding the GIL).
    # A text column (`CODES`) holds its strings in its chunks' dictionaries.
    empty = any(
        ak.minimum(ak.binary_length(chunk.dictionary)).as_py() == 0
        for c in columns
        if pa.types.is_dictionary(table[c].type)
        for chunk in table[c].chunks
        if len(chunk)
    )
    return empty or any(table[c].null_count for c in columns)


def _bad_values(table: pa.Table) -> bool:
    values = table["value"].to_numpy()
    return bool((~np.isfinite(values) | (values < 0)).any())


def _codes(column: pa.ChunkedArray) -> tuple[NDArray[np.int64], list[str]]:
    """Integer codes of a text column (`CODES`) and the distinct strings they stand
    for, in order of first appearance (its chunks' dictionaries, unified in order)."""
    encoded = column.combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary.to_pylist()


def days_in_range(days: pa.Array | pa.ChunkedArray) -> bool:
    """True when every date lies in FIRST_DAY..LAST_DAY (the fast paths' check)."""
    if len(days) == 0:
        return True
    bounds = ak.min_max(days)
    return bool(
        bounds["min"].as_py() >= FIRST_DAY and bounds["max"].as_py() <= LAST_DAY
    )


def all_identifiers(names: list[str]) -> bool:
    """True when no name holds a control character (the fast paths' check)."""
    return not any(identifier_problem(n) for n in names)


def _check_known(
    path: Path, column: pa.ChunkedArray, ids: list[str], known: Collection[str] | None
) -> None:
    if known is None:
        return
    unknown = [n for n in ids if n not in known]
    if unknown:
        row = ak.index(ak.cast(column, pa.string()), unknown[0])  # a `CODES` column
        raise InputError(f"unknown node {unknown[0]!r}", file=str(path), line=row + 2)


def _labels(
    path: Path, table: pa.Table
) -> tuple[NDArray[np.int64], list[dict[str, Any]]]:
    if "labels" not in table.column_names:
        return np.zeros(table.num_rows, dtype=np.int64), [{}]
    codes, texts = _codes(table["labels"])
    sets = []
    for i, text in enumerate(texts):
        try:
            sets.append(_label_set(text))
        except ValueError as exc:
            row = int(np.flatnonzero(codes == i)[0])
            raise InputError(str(exc), file=str(path), line=row + 2) from None
    return codes, sets


def _label_set(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        labels = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"labels are not JSON: {text!r}") from None
    if not isinstance(labels, dict):
        raise ValueError(f"labels must be a JSON object: {text!r}")
    return labels


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        yield from enumerate(csv.DictReader(handle), start=2)


def _field(path: Path, line: int, row: dict[str, str], name: str) -> str:
    value = (row.get(name) or "").strip(" ")  # not str.strip(): it eats U+001C-U+001F
    if not value:
        raise InputError(f"empty {name}", file=str(path), line=line, field=name)
    return value


def _identifier(path: Path, line: int, row: dict[str, str], name: str) -> str:
    value = _field(path, line, row, name)
    problem = identifier_problem(value)
    if problem:
        raise InputError(f"{name}: {problem}", file=str(path), line=line, field=name)
    return value


def _day(path: Path, line: int, row: dict[str, str]) -> date:
    text = _field(path, line, row, "date")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"malformed date {text!r}", file=str(path), line=line, field="date"
        ) from None
    problem = day_problem(day)
    if problem:
        raise InputError(f"date {problem}", file=str(path), line=line, field="date")
    return day


def costs_slowly(path: Path, known: Collection[str] | None) -> CostTable:
    """Row by row with Decimal: exact for any input, and names the first bad line."""
    totals: dict[tuple[str, date, str], Decimal] = {}
    absolute = Decimal(0)  # bounds every partial sum: none may pass SUM_LIMIT_MICROS
    for line, row in _rows(path):
        node = _node(path, line, row, known)
        key = (node, _day(path, line, row), _identifier(path, line, row, "dimension"))
        text = _field(path, line, row, "amount")
        try:
            amount = parse_decimal(text)
        except ValueError:
            raise InputError(
                f"malformed amount {text!r}", file=str(path), line=line, field="amount"
            ) from None
        if abs(amount) > MAX_AMOUNT_UNITS:
            raise MoneyRangeError(
                f"amount {text} is outside the supported range "
                f"(+-{MAX_AMOUNT_UNITS:,} per row)",
                file=str(path),
                line=line,
                field="amount",
            )
        absolute += abs(amount)
        if absolute * MICROS_PER_UNIT >= SUM_LIMIT_MICROS:
            raise MoneyRangeError(
                "amounts up to this line add up beyond the supported range "
                f"({SUM_LIMIT_MICROS // MICROS_PER_UNIT:,} in absolute value)",
                file=str(path),
                line=line,
            )
        totals[key] = totals.get(key, Decimal(0)) + amount
    node_ids = sorted({k[0] for k in totals})
    dims = sorted({k[2] for k in totals})
    nix, dix = (
        {n: i for i, n in enumerate(node_ids)},
        {d: i for i, d in enumerate(dims)},
    )
    return CostTable(
        node=np.array([nix[k[0]] for k in totals], dtype=np.int64),
        day=to_day_numbers(k[1] for k in totals),
        dimension=np.array([dix[k[2]] for k in totals], dtype=np.int64),
        micros=np.array([to_micros(v) for v in totals.values()], dtype=np.int64),
        node_ids=node_ids,
        dimensions=dims,
    )


def _node(
    path: Path, line: int, row: dict[str, str], known: Collection[str] | None
) -> str:
    node = _identifier(path, line, row, "node")
    if known is not None and node not in known:
        raise InputError(
            f"unknown node {node!r}", file=str(path), line=line, field="node"
        )
    return node


def _usage_slowly(path: Path, known: Collection[str] | None) -> UsageTable:
    """Row by row; names the first bad line."""
    records = [_usage_row(path, line, row, known) for line, row in _rows(path)]
    return UsageTable.from_records(records)


def _usage_row(
    path: Path, line: int, row: dict[str, str], known: Collection[str] | None
) -> UsageRecord:
    node = _node(path, line, row, known)
    day = _day(path, line, row)
    metric = _identifier(path, line, row, "metric")
    text = _field(path, line, row, "value")
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    from finops.domain.focus.usage import usage_value_problem  # row by row only

    problem = usage_value_problem(value)
    if problem:
        raise InputError(
            f"usage value {problem}: {text!r}", file=str(path), line=line, field="value"
        )
    try:
        labels = _label_set(row.get("labels"))
    except ValueError as exc:
        raise InputError(str(exc), file=str(path), line=line, field="labels") from None
    from finops.domain.records import UsageRecord

    return UsageRecord(node=node, date=day, metric=metric, value=value, labels=labels)
