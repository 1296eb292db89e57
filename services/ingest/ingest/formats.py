"""What a delivered file holds: the formats ingest reads; node-cost CSVs as lines."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from finops.domain.focus.cur_layout import detect_cur
from finops.domain.focus.normalize import NormalizedBatch, unit_costs_from_lines
from finops.domain.focus.parsing import to_micros_array, to_utc_array
from finops.domain.focus.readers import RawBatch, iter_batches, read_header
from finops.domain.focus.rejects import (
    Check,
    collect_rejects,
    holds_control_characters,
)
from finops.domain.focus.spread import DAY_MICROSECONDS
from finops.domain.money import MAX_AMOUNT_UNITS, out_of_range
from finops.domain.periods import FIRST_DAY, LAST_DAY
from finops.errors import InputError

__all__ = ["NODE_COST_COLUMNS", "IngestFormat", "node_cost_batches", "sniff_format"]

NODE_COST_COLUMNS: Final = ("node", "date", "dimension", "amount")
_UTC_US: Final = pa.timestamp("us", tz="UTC")
_TEXT_FIELDS: Final = (
    "billing_account_id",
    "sub_account_id",
    "charge_category",
    "service_category",
    "service_name",
    "resource_id",
    "region_id",
    "resource_name",
    "resource_type",
)
_OTHER_COSTS: Final = ("effective_cost", "list_cost", "contracted_cost")


class IngestFormat(StrEnum):
    """What a delivered file holds."""

    FOCUS = "focus"  # a bill: FOCUS 1.0-1.3, an AWS CUR, or a provider CSV (profile)
    CUR = "cur"  # an AWS Cost and Usage Report (legacy or 2.0), nothing else
    NODE_COSTS = "node-costs"  # node,date,dimension,amount
    USAGE = "usage"  # node,date,metric,value[,labels]

    @property
    def is_bill(self) -> bool:
        """Whether the file is a bill (read by finops.domain.focus)."""
        return self in (IngestFormat.FOCUS, IngestFormat.CUR)


def node_cost_batches(path: Path, *, source: str) -> Iterator[NormalizedBatch]:
    """Stream a `node,date,dimension,amount` CSV as batches of one-day lines."""
    missing = [c for c in NODE_COST_COLUMNS if c not in read_header(path)]
    if missing:
        raise InputError(
            f"not a node-costs file; missing columns: {', '.join(missing)}",
            file=str(path),
        )
    for raw in iter_batches(path, NODE_COST_COLUMNS):
        yield _node_cost_batch(raw, file=str(path), source=source)


def _node_cost_batch(raw: RawBatch, *, file: str, source: str) -> NormalizedBatch:
    """Validate one batch of node-cost rows; good rows become lines with costs."""
    table = pa.Table.from_batches([raw.table])
    amount, bad_amount = to_micros_array(table["amount"].combine_chunks())
    start, bad_date = to_utc_array(table["date"].combine_chunks())
    checks = [
        Check(f"missing {c}", np.asarray(pc.is_null(table[c])))
        for c in NODE_COST_COLUMNS
    ]
    checks += [
        Check(f"{c} holds a control character", holds_control_characters(v), v)
        for c in ("node", "dimension")
        for v in [table[c].combine_chunks()]
    ]
    checks += [
        Check("date is not a valid date", bad_date, table["date"].combine_chunks()),
        Check(
            f"date outside {FIRST_DAY.isoformat()}..{LAST_DAY.isoformat()}",
            _outside_days(start),
            table["date"].combine_chunks(),
        ),
        Check("amount is not a number", bad_amount, table["amount"].combine_chunks()),
        Check(
            f"amount is outside the supported range (+-{MAX_AMOUNT_UNITS:,})",
            out_of_range(np.asarray(pc.fill_null(amount, 0), dtype=np.int64)),
            table["amount"].combine_chunks(),
        ),
    ]
    rejected, rejects = collect_rejects(file, raw.lines, checks)
    keep = pa.array(~rejected)
    lines = _node_cost_lines(
        table.filter(keep),
        amount.filter(keep),
        start.filter(keep),
        raw.lines[~rejected],
        source=source,
    )
    totals = {source: int(pc.sum(lines["cost_micros"]).as_py() or 0)}
    partitions = {
        (source, p)
        for p in pc.unique(
            pc.cast(lines["billing_period_start"], pa.date32())
        ).to_pylist()
    }
    return NormalizedBatch(
        file=file,
        layout="node costs",
        rows_read=len(raw.lines) + len(raw.malformed),
        unit_costs=unit_costs_from_lines(lines),
        rejects=tuple(sorted((*raw.malformed, *rejects))),
        lines=lines,
        provider_totals=totals if lines.num_rows else {},
        partitions=frozenset(partitions),
    )


def _outside_days(start: pa.Array) -> np.ndarray:
    """Rows whose (parsed) date lies outside FIRST_DAY..LAST_DAY."""
    days = pc.cast(pc.cast(start, _UTC_US), pa.date32())
    outside = pc.or_(pc.less(days, FIRST_DAY), pc.greater(days, LAST_DAY))
    return np.asarray(pc.fill_null(outside, False), dtype=np.bool_)


def _node_cost_lines(
    table: pa.Table,
    amount: pa.Array,
    start: pa.Array,
    numbers: np.ndarray,
    *,
    source: str,
) -> pa.Table:
    """Line-table rows (as `normalize_file` makes them) of node-cost rows."""
    start = pc.floor_temporal(start.cast(_UTC_US), unit="day")
    micros = start.cast(pa.int64()).to_numpy(zero_copy_only=False)
    month = pc.floor_temporal(start, unit="month")
    rows = table.num_rows
    text = pa.nulls(rows, pa.string())
    columns: dict[str, pa.Array] = {
        "line": pa.array(numbers, pa.int64()),
        "source": pc.fill_null(text, source),
        "provider": pc.fill_null(text, source),
        **{name: text for name in _TEXT_FIELDS},
        "billing_currency": pc.fill_null(text, "USD"),
        "billing_period_start": month,
        "charge_period_start": start,
        "charge_period_end": pa.array(micros + DAY_MICROSECONDS, pa.int64()).cast(
            _UTC_US
        ),
        "cost_micros": amount.cast(pa.int64()),
        "billed_cost_micros": amount.cast(pa.int64()),
        **{f"{name}_micros": pa.nulls(rows, pa.int64()) for name in _OTHER_COSTS},
        "tags": text,
        "node": table["node"].combine_chunks(),
        "dimension": table["dimension"].combine_chunks(),
    }
    return pa.table(columns)


def sniff_format(path: Path) -> IngestFormat:
    """Guess a file's format from its name and header (drop folder, `auto`)."""
    if path.suffix.lower() in (".json", ".jsonl", ".ndjson"):
        return IngestFormat.USAGE
    header = set(read_header(path))
    if {"node", "date", "metric", "value"} <= header:
        return IngestFormat.USAGE
    if set(NODE_COST_COLUMNS) <= header:
        return IngestFormat.NODE_COSTS
    if detect_cur(header, file=str(path)) is not None:
        return IngestFormat.CUR
    return IngestFormat.FOCUS
