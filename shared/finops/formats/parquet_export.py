"""An export's CSV as a Parquet file, converted batch by batch (flat memory).

Column types are fixed by name, not guessed: money columns (the figures, amounts and
FOCUS cost columns) are decimal(24, 6), exact; dates are date32; line numbers and
counts int64; shares float64; everything else (ids, timestamps as written, JSON) text.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = ["column_type", "csv_file_to_parquet"]

MONEY: Final = pa.decimal128(24, 6)
_MONEY_COLUMNS: Final = frozenset(
    {
        "direct",
        "indirect",
        "holistic",
        "allocated_out",
        "retained",
        "shared_services",
        "amount",
        "cost",
        "billed_cost",
        "effective_cost",
        "BilledCost",
        "EffectiveCost",
        "ListCost",
        "ContractedCost",
        "x_FinopsCost",
    }
)
_INT_COLUMNS: Final = frozenset({"line", "lines", "x_SourceLine"})
_DATE_COLUMNS: Final = frozenset({"date"})
_FLOAT_COLUMNS: Final = frozenset({"share"})
_BLOCK: Final = 4 << 20


def column_type(name: str) -> pa.DataType:
    """The Parquet type of an export column."""
    if name in _MONEY_COLUMNS:
        return MONEY
    if name in _INT_COLUMNS:
        return pa.int64()
    if name in _DATE_COLUMNS:
        return pa.date32()
    if name in _FLOAT_COLUMNS:
        return pa.float64()
    return pa.string()


def csv_file_to_parquet(source: Path, target: Path) -> int:
    """Convert an export's CSV file (header first) to Parquet; returns the rows."""
    with source.open("rb") as handle:
        header = handle.readline().decode("utf-8").rstrip("\r\n")
    names = _names(header)
    types = {name: column_type(name) for name in names}
    reader = pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(block_size=_BLOCK),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    schema = pa.schema([(n, types[n]) for n in names])
    rows = 0
    with pq.ParquetWriter(target, schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch.cast(schema) if batch.schema != schema else batch)
            rows += batch.num_rows
    return rows


def _names(header: str) -> list[str]:
    """The column names of a CSV header line (quoted names unquoted)."""
    return next(csv.reader([header]))
