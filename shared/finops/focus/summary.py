"""The figures an analyst checks first: spend by provider, category, account; tags."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from finops.focus.bills import open_layout, read_bill
from finops.focus.parsing import has_tags, to_micros_array
from finops.focus.view import BatchView
from finops.money import format_micros

__all__ = ["GROUPINGS", "NONE_LABEL", "Summary", "summarize_files"]

# Heading -> FOCUS column (any version's name resolves through the column map).
GROUPINGS: Final = {
    "provider": "ProviderName",
    "service_category": "ServiceCategory",
    "charge_category": "ChargeCategory",
    "sub_account": "SubAccountId",
}
NONE_LABEL: Final = "(none)"


@dataclass
class Summary:
    """Spend totals (micro-units) of one or more files, by grouping and value."""

    cost_column: str
    rows: int = 0
    unreadable: int = 0
    total_micros: int = 0
    tagged_rows: int = 0
    tagged_micros: int = 0
    spend: dict[str, dict[str, int]] = field(
        default_factory=lambda: {g: defaultdict(int) for g in GROUPINGS}
    )

    def tag_coverage(self) -> float:
        """Share of the spend on lines with at least one tag (0 when no spend)."""
        return self.tagged_micros / self.total_micros if self.total_micros else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view; amounts as decimal strings with six decimals."""
        return {
            "cost_column": self.cost_column,
            "rows": self.rows,
            "unreadable_rows": self.unreadable,
            "total": format_micros(self.total_micros),
            "spend": {
                g: {k: format_micros(v) for k, v in _ranked(values)}
                for g, values in self.spend.items()
            },
            "tags": {
                "tagged_rows": self.tagged_rows,
                "tagged_spend": format_micros(self.tagged_micros),
                "coverage": round(self.tag_coverage(), 6),
            },
        }


def _ranked(values: dict[str, int]) -> list[tuple[str, int]]:
    """Values by spend, largest first."""
    return sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))


def _add_batch(summary: Summary, view: BatchView) -> None:
    """Add one batch's spend to the running summary."""
    values = view.raw(summary.cost_column)
    if values is None:
        return
    micros, _ = to_micros_array(values)
    summary.rows += view.num_rows
    summary.unreadable += micros.null_count
    cost = pc.fill_null(micros, 0)
    summary.total_micros += _sum(cost)
    tagged = _tagged(view)
    summary.tagged_rows += _sum(tagged.cast(pa.int64()))
    summary.tagged_micros += _sum(pc.if_else(tagged, cost, 0))
    for grouping, column in GROUPINGS.items():
        _add_grouping(summary.spend[grouping], view.text(column), cost)


def _tagged(view: BatchView) -> pa.Array:
    """Which rows carry tags."""
    tags = view.raw("Tags")
    if tags is None:
        return pa.array(np.zeros(view.num_rows, dtype=np.bool_))
    return has_tags(tags)


def _sum(values: pa.Array) -> int:
    """Exact integer sum (0 for no rows)."""
    return int(pc.sum(values).as_py() or 0)


def _add_grouping(totals: dict[str, int], keys: pa.Array, cost: pa.Array) -> None:
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
) -> Summary:
    """Summarise bill files (any supported layout), streaming in batches."""
    summary = Summary(cost_column=cost_column)
    wanted = [cost_column, "Tags", *GROUPINGS.values()]
    for path in paths:
        layout = open_layout(path, required=(cost_column,), profile=profile)
        for raw in read_bill(path, layout, wanted):
            _add_batch(summary, BatchView(raw.table, layout.columns))
    return summary
