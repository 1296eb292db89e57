"""Node costs: per node, UTC day and dimension, summed exactly in micro-units."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from finops.domain.money import check_summable, format_micros
from finops.domain.records import NodeCost

__all__ = [
    "COSTS_COLUMNS",
    "COSTS_SCHEMA",
    "COST_KEYS",
    "CostTotals",
    "round_picos",
    "round_provider_totals",
    "sum_costs",
    "to_node_costs",
    "write_costs",
]

COST_KEYS: Final = ("node", "date", "dimension")
COSTS_COLUMNS: Final = ("node", "date", "dimension", "amount")
COSTS_SCHEMA: Final = pa.schema(
    [
        ("node", pa.string()),
        ("date", pa.date32()),
        ("dimension", pa.string()),
        ("amount_micros", pa.int64()),
    ]
)
PICOS_PER_MICRO: Final = 1_000_000
# Partial sums are merged when this many rows wait, keeping memory bounded.
_MERGE_ROWS: Final = 500_000


def sum_costs(table: pa.Table) -> pa.Table:
    """Sum amount_micros per node, date and dimension (int64, exact)."""
    if table.num_rows == 0:
        return COSTS_SCHEMA.empty_table()
    amounts = table["amount_micros"].combine_chunks()
    check_summable(np.asarray(pc.fill_null(amounts, 0), dtype=np.int64))
    grouped = table.group_by(list(COST_KEYS), use_threads=False).aggregate(
        [("amount_micros", "sum")]
    )
    grouped = grouped.rename_columns(
        [
            "amount_micros" if n == "amount_micros_sum" else n
            for n in grouped.column_names
        ]
    )
    return grouped.select(COSTS_SCHEMA.names).cast(COSTS_SCHEMA)


def round_provider_totals(
    micros: Mapping[str, int], picos: Mapping[str, int]
) -> dict[str, int]:
    """Per provider, the micro-units of its lines (each rounded) plus what rounding
    took off them (pico-units, 10^-12), rounded once: the exact total."""
    return {
        name: amount + int(round_picos(np.array([picos.get(name, 0)]))[0])
        for name, amount in micros.items()
    }


def round_picos(picos: NDArray[np.int64]) -> NDArray[np.int64]:
    """Pico-units (10^-12) to micro-units, rounded half to even."""
    whole, rest = np.divmod(picos, PICOS_PER_MICRO)  # rest in [0, 10^6)
    half = PICOS_PER_MICRO // 2
    up = (rest > half) | ((rest == half) & (whole % 2 == 1))
    return np.asarray(whole + up, dtype=np.int64)


class CostTotals:
    """Running node-cost totals over many batches, in bounded memory."""

    def __init__(self) -> None:
        self._parts: list[pa.Table] = []
        self._waiting = 0

    def add(self, costs: pa.Table) -> None:
        """Add one batch's costs."""
        self._parts.append(costs)
        self._waiting += costs.num_rows
        if self._waiting > _MERGE_ROWS:
            self._parts = [sum_costs(pa.concat_tables(self._parts))]
            self._waiting = self._parts[0].num_rows

    def result(self) -> pa.Table:
        """Totals sorted by node, date and dimension."""
        if not self._parts:
            return COSTS_SCHEMA.empty_table()
        total = sum_costs(pa.concat_tables(self._parts))
        return total.sort_by([(key, "ascending") for key in COST_KEYS])


def to_node_costs(costs: pa.Table) -> list[NodeCost]:
    """NodeCost records of a costs table."""
    return [NodeCost(**row) for row in costs.to_pylist()]


def _rows(costs: pa.Table) -> Iterable[tuple[str, str, str, str]]:
    """CSV rows with amounts in six decimals."""
    for row in costs.to_pylist():
        amount = format_micros(row["amount_micros"])
        yield row["node"], row["date"].isoformat(), row["dimension"], amount


def write_costs(costs: pa.Table, path: Path) -> int:
    """Write `node,date,dimension,amount` CSV; returns the number of rows."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COSTS_COLUMNS)
        writer.writerows(_rows(costs))
    return int(costs.num_rows)
