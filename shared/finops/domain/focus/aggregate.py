"""Node costs: per node, UTC day and dimension, summed exactly in micro-units.

Lines are summed exactly (micro-units plus the pico-units below them) per unit of
restatement (source, billing period), node, day and dimension, and each such sum is
rounded once, half to even; node costs add those rounded sums across units.
"""

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
    "UNIT_COSTS_SCHEMA",
    "UNIT_KEYS",
    "CostTotals",
    "round_exact",
    "round_provider_totals",
    "rounded_costs",
    "sum_costs",
    "sum_unit_costs",
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
# Exact node costs of one unit of restatement (source, billing period): the amount
# is amount_micros * 10^-6 + amount_picos * 10^-12, not yet rounded.
UNIT_KEYS: Final = ("source", "period", *COST_KEYS)
UNIT_COSTS_SCHEMA: Final = pa.schema(
    [
        ("source", pa.string()),
        ("period", pa.date32()),
        *COSTS_SCHEMA,
        ("amount_picos", pa.int64()),
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


def sum_unit_costs(table: pa.Table) -> pa.Table:
    """Sum the exact parts per unit, node, date and dimension (int64, exact)."""
    if table.num_rows == 0:
        return UNIT_COSTS_SCHEMA.empty_table()
    for name in ("amount_micros", "amount_picos"):
        check_summable(np.asarray(table[name].combine_chunks(), dtype=np.int64))
    grouped = table.group_by(list(UNIT_KEYS), use_threads=False).aggregate(
        [("amount_micros", "sum"), ("amount_picos", "sum")]
    )
    grouped = grouped.rename_columns(
        [n.removesuffix("_sum") for n in grouped.column_names]
    )
    return grouped.select(UNIT_COSTS_SCHEMA.names).cast(UNIT_COSTS_SCHEMA)


def rounded_costs(units: pa.Table) -> pa.Table:
    """Node costs (COSTS_SCHEMA) of exact unit costs: each unit's sum per node, date
    and dimension rounded once (half to even), then added across units."""
    units = sum_unit_costs(units)
    micros = round_exact(
        np.asarray(units["amount_micros"].combine_chunks(), dtype=np.int64),
        np.asarray(units["amount_picos"].combine_chunks(), dtype=np.int64),
    )
    table = units.select(list(COST_KEYS)).append_column(
        "amount_micros", pa.array(micros, pa.int64())
    )
    return sum_costs(table)


def round_exact(
    micros: NDArray[np.int64], picos: NDArray[np.int64]
) -> NDArray[np.int64]:
    """micros * 10^-6 + picos * 10^-12, rounded half to even to micro-units."""
    whole, rest = np.divmod(picos, PICOS_PER_MICRO)  # rest in [0, 10^6)
    base = micros + whole
    half = PICOS_PER_MICRO // 2
    up = (rest > half) | ((rest == half) & (base % 2 == 1))
    return np.asarray(base + up, dtype=np.int64)


def round_provider_totals(
    micros: Mapping[str, int], picos: Mapping[str, int]
) -> dict[str, int]:
    """Per provider, the micro-units of its lines (each rounded) plus what rounding
    took off them (pico-units, 10^-12), rounded once: the exact total."""
    names = list(micros)
    rounded = round_exact(
        np.array([micros[n] for n in names], dtype=np.int64),
        np.array([picos.get(n, 0) for n in names], dtype=np.int64),
    )
    return dict(zip(names, (int(v) for v in rounded), strict=True))


class CostTotals:
    """Running node-cost totals over many batches of exact unit costs
    (UNIT_COSTS_SCHEMA), in bounded memory; rounded once in `result`."""

    def __init__(self) -> None:
        self._parts: list[pa.Table] = []
        self._waiting = 0
        self._merged = 0  # rows of the last merge

    def add(self, units: pa.Table) -> None:
        """Add one batch's exact unit costs."""
        self._parts.append(units)
        self._waiting += units.num_rows
        # Merging again only once the rows have doubled since the last merge keeps
        # the work linear when there are many distinct keys.
        if self._waiting > max(_MERGE_ROWS, 2 * self._merged):
            self._parts = [sum_unit_costs(pa.concat_tables(self._parts))]
            self._waiting = self._merged = self._parts[0].num_rows

    def result(self) -> pa.Table:
        """Totals (rounded once per unit) sorted by node, date and dimension."""
        if not self._parts:
            return COSTS_SCHEMA.empty_table()
        total = rounded_costs(pa.concat_tables(self._parts))
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
