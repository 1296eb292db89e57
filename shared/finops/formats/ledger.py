"""The master ledger offline: every bill line of FOCUS and provider files as one FOCUS
1.3 CSV, the same columns as the api's `ledger` export (`finops focus ledger`).

`ServiceProviderName` and `HostProviderName` are the line's provider (a FOCUS 1.0-1.2
`ProviderName` too); the mapped node and dimension (the rules), the rules' cost, the
source file and line go in `x_` columns. Money has six decimals, timestamps are ISO
8601 UTC (`2025-01-01T00:00:00Z`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

__all__ = ["LEDGER_COLUMNS", "LedgerWriter", "ledger_table"]

# (ledger column, line-table column)
_TEXT: Final = (
    ("BillingAccountId", "billing_account_id"),
    ("SubAccountId", "sub_account_id"),
    ("BillingCurrency", "billing_currency"),
    ("BillingPeriodStart", "billing_period_start"),
    ("ChargeCategory", "charge_category"),
    ("ChargePeriodStart", "charge_period_start"),
    ("ChargePeriodEnd", "charge_period_end"),
    ("ServiceProviderName", "provider"),
    ("HostProviderName", "provider"),
    ("ServiceCategory", "service_category"),
    ("ServiceName", "service_name"),
    ("ResourceId", "resource_id"),
    ("ResourceName", "resource_name"),
    ("ResourceType", "resource_type"),
    ("RegionId", "region_id"),
    ("Tags", "tags"),
    ("x_FinopsNode", "node"),
    ("x_FinopsDimension", "dimension"),
)
_COSTS: Final = (
    ("BilledCost", "billed_cost_micros"),
    ("EffectiveCost", "effective_cost_micros"),
    ("ListCost", "list_cost_micros"),
    ("ContractedCost", "contracted_cost_micros"),
)
LEDGER_COLUMNS: Final = (
    *(c for c, _ in _COSTS),
    *(c for c, _ in _TEXT),
    "x_FinopsCost",
    "x_SourceFile",
    "x_SourceLine",
    "x_Source",
)
_MONEY: Final = pa.decimal128(24, 6)


def _money(micros: pa.Array) -> pa.Array:
    """int64 micro-units as decimal(24, 6), exact."""
    scaled = pc.cast(micros, pa.decimal128(24, 0))
    return pc.divide(scaled, pa.scalar(1_000_000, pa.decimal128(7, 0))).cast(_MONEY)


def _text(column: pa.Array) -> pa.Array:
    if pa.types.is_timestamp(column.type):
        seconds = column.cast(pa.timestamp("s", tz="UTC"), safe=False)
        return pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%SZ")
    return pc.cast(column, pa.string())


def ledger_table(lines: pa.Table, *, file: str) -> pa.Table:
    """A line table (finops.domain.focus.linetable) as ledger rows."""
    rows = lines.num_rows
    columns: dict[str, pa.Array] = {}
    for name, source in _COSTS:
        columns[name] = _money(lines.column(source).combine_chunks())
    for name, source in _TEXT:
        columns[name] = _text(lines.column(source).combine_chunks())
    columns["x_FinopsCost"] = _money(lines.column("cost_micros").combine_chunks())
    columns["x_SourceFile"] = pa.array([file] * rows, pa.string())
    columns["x_SourceLine"] = lines.column("line").combine_chunks()
    columns["x_Source"] = _text(lines.column("source").combine_chunks())
    return pa.table(columns)


class LedgerWriter:
    """Writes ledger tables one after the other into one CSV file."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._writer: pacsv.CSVWriter | None = None
        self.rows = 0

    def write(self, tables: Iterable[pa.Table]) -> None:
        for table in tables:
            if self._writer is None:
                self._writer = pacsv.CSVWriter(
                    self._path,
                    table.schema,
                    write_options=pacsv.WriteOptions(quoting_style="needed"),
                )
            self._writer.write_table(table)
            self.rows += table.num_rows

    def close(self) -> None:
        """Finish the file (a header only when nothing was written)."""
        if self._writer is None:
            self._path.write_text(",".join(LEDGER_COLUMNS) + "\n", encoding="utf-8")
        else:
            self._writer.close()
