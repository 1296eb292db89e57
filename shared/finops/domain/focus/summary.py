"""The figures an analyst checks first: spend by provider, category, account; tags."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from finops.domain.focus.bills import open_layout, read_bill
from finops.domain.focus.parsing import to_decimal_array
from finops.domain.focus.tags import has_tags
from finops.domain.focus.view import BatchView

__all__ = [
    "GROUPINGS",
    "NONE_LABEL",
    "Summary",
    "summarize_files",
    "to_six_decimals",
]

# Heading -> FOCUS column (any version's name resolves through the column map).
GROUPINGS: Final = {
    "provider": "ProviderName",
    "service_category": "ServiceCategory",
    "charge_category": "ChargeCategory",
    "sub_account": "SubAccountId",
}
NONE_LABEL: Final = "(none)"
ZERO: Final = Decimal(0)
SIX_PLACES: Final = Decimal("0.000001")
_WIDE_ZERO: Final = pa.scalar(ZERO, pa.decimal128(38, 18))


@dataclass
class Summary:
    """Exact spend of one or more files, by grouping and value (Decimal, unrounded)."""

    cost_column: str
    rows: int = 0
    unreadable: int = 0
    total: Decimal = ZERO
    tagged_rows: int = 0
    tagged_spend: Decimal = ZERO
    charges: Decimal = ZERO
    tagged_charges: Decimal = ZERO
    spend: dict[str, dict[str, Decimal]] = field(
        default_factory=lambda: {g: defaultdict(Decimal) for g in GROUPINGS}
    )

    def tag_coverage(self) -> float:
        """Share of the charges (positive costs) on tagged lines; credits left out."""
        return float(self.tagged_charges / self.charges) if self.charges else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view; amounts rounded half to even to six decimals, as text."""
        return {
            "cost_column": self.cost_column,
            "rows": self.rows,
            "unreadable_rows": self.unreadable,
            "total": to_six_decimals(self.total),
            "spend": {
                g: {k: to_six_decimals(v) for k, v in _ranked(values)}
                for g, values in self.spend.items()
            },
            "tags": {
                "tagged_rows": self.tagged_rows,
                "tagged_spend": to_six_decimals(self.tagged_spend),
                "coverage_of_charges": round(self.tag_coverage(), 6),
            },
        }


def to_six_decimals(amount: Decimal) -> str:
    """Text of an amount rounded half to even to six decimals (never `-0.000000`)."""
    rounded = amount.quantize(SIX_PLACES, rounding=ROUND_HALF_EVEN)
    return str(rounded if rounded else ZERO.quantize(SIX_PLACES))


def _ranked(values: dict[str, Decimal]) -> list[tuple[str, Decimal]]:
    """Values by spend, largest first."""
    return sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))


def _add_batch(summary: Summary, view: BatchView) -> None:
    """Add one batch's spend to the running summary."""
    values = view.raw(summary.cost_column)
    if values is None:
        return
    amounts, _ = to_decimal_array(values)
    summary.rows += view.num_rows
    summary.unreadable += amounts.null_count
    cost = pc.fill_null(amounts, _WIDE_ZERO)
    summary.total += _sum(cost)
    _add_tag_coverage(summary, _tagged(view), cost)
    for grouping, column in GROUPINGS.items():
        _add_grouping(summary.spend[grouping], view.text(column), cost)


def _add_tag_coverage(summary: Summary, tagged: pa.Array, cost: pa.Array) -> None:
    """Add tagged rows, tagged spend, and charges (positive costs) tagged or not."""
    summary.tagged_rows += int(pc.sum(tagged.cast(pa.int64())).as_py() or 0)
    summary.tagged_spend += _sum(pc.if_else(tagged, cost, _WIDE_ZERO))
    charges = pc.if_else(pc.greater(cost, _WIDE_ZERO), cost, _WIDE_ZERO)
    summary.charges += _sum(charges)
    summary.tagged_charges += _sum(pc.if_else(tagged, charges, _WIDE_ZERO))


def _tagged(view: BatchView) -> pa.Array:
    """Which rows carry tags."""
    tags = view.raw("Tags")
    if tags is None:
        return pa.array(np.zeros(view.num_rows, dtype=np.bool_))
    return has_tags(tags)


def _sum(values: pa.Array) -> Decimal:
    """Exact sum of decimals (0 for no rows)."""
    total = pc.sum(values).as_py()
    return Decimal(total) if total is not None else ZERO


def _add_grouping(totals: dict[str, Decimal], keys: pa.Array, cost: pa.Array) -> None:
    """Sum cost per key value into totals."""
    table = pa.table({"key": pc.fill_null(keys, NONE_LABEL), "cost": cost})
    grouped = table.group_by("key", use_threads=False).aggregate([("cost", "sum")])
    keys, sums = grouped["key"].to_pylist(), grouped["cost_sum"].to_pylist()
    for key, amount in zip(keys, sums, strict=True):
        totals[key] += amount


def summarize_files(
    paths: Iterable[Path],
    *,
    cost_column: str = "BilledCost",
    profile: str | None = None,
    bill_format: str = "auto",
) -> Summary:
    """Summarise bill files (any supported layout), streaming in batches."""
    summary = Summary(cost_column=cost_column)
    wanted = [cost_column, "Tags", *GROUPINGS.values()]
    for path in paths:
        layout = open_layout(
            path, required=(cost_column,), profile=profile, bill_format=bill_format
        )
        for raw in read_bill(path, layout, wanted):
            _add_batch(summary, BatchView(raw.table, layout.columns))
    return summary
