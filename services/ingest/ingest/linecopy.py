"""Normalised line tables as CSV for PostgreSQL's COPY, written by Arrow."""

from __future__ import annotations

import io
from typing import Final
from uuid import UUID

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from finops.domain.focus.linetable import LINE_TEXT_FIELDS

__all__ = ["LINE_COLUMNS", "lines_to_csv"]

# The normalised line table's text columns, in its order, after the source.
_TEXT: Final = ("source", *LINE_TEXT_FIELDS)
_TIMES: Final = ("billing_period_start", "charge_period_start", "charge_period_end")
_COSTS: Final = (
    "cost",
    "billed_cost",
    "effective_cost",
    "list_cost",
    "contracted_cost",
)
LINE_COLUMNS: Final = [
    "billing_month",
    "ingest_id",
    "line",
    *_TEXT,
    *_TIMES,
    *_COSTS,
    "tags",
    "node",
    "dimension",
    "cost_picos",
]
_MONEY: Final = pa.decimal128(24, 6)
_OPTIONS: Final = pcsv.WriteOptions(include_header=False, quoting_style="needed")


def _money(micros: pa.ChunkedArray) -> pa.Array:
    """Exact decimals of micro-units: the same integers read with six decimals."""
    whole = micros.combine_chunks().cast(pa.decimal128(24, 0))
    return whole.view(_MONEY)


def _picos(lines: pa.Table, rows: int) -> pa.Array | pa.ChunkedArray:
    """What rounding each line's cost to micro-units took off (10^-12), 0 if unknown."""
    if "cost_picos" in lines.column_names:
        return lines["cost_picos"]
    return pa.array([0] * rows, pa.int64())


def _utc_text(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """UTC timestamps as text with an explicit `Z` (Arrow writes zoned ones slowly)."""
    naive = pc.cast(values.cast(pa.timestamp("us")), pa.string())
    return pc.binary_join_element_wise(naive, "Z", "")


def lines_to_csv(lines: pa.Table, ingest_id: UUID) -> bytes:
    """CSV rows in LINE_COLUMNS order; nulls are empty, empty text is quoted."""
    rows = lines.num_rows
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "billing_month": pc.cast(
            pc.floor_temporal(lines["billing_period_start"], unit="month"), pa.date32()
        ),
        "ingest_id": pc.fill_null(pa.nulls(rows, pa.string()), str(ingest_id)),
        "line": lines["line"],
    }
    columns |= {name: lines[name] for name in _TEXT}
    columns |= {name: _utc_text(lines[name]) for name in _TIMES}
    columns["cost"] = _money(lines["cost_micros"])
    columns |= {name: _money(lines[f"{name}_micros"]) for name in _COSTS[1:]}
    columns |= {name: lines[name] for name in ("tags", "node", "dimension")}
    columns["cost_picos"] = _picos(lines, rows)
    out = io.BytesIO()
    pcsv.write_csv(pa.table(columns), out, _OPTIONS)
    return out.getvalue()
