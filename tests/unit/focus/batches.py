"""Running the normaliser over test files and reading back node costs."""

from __future__ import annotations

from pathlib import Path

from finops.domain.focus.aggregate import CostTotals
from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.normalize import NormalizedBatch, normalize_file


def run(path: Path, rules: MappingRules, **options: object) -> list[NormalizedBatch]:
    """All batches of one file."""
    return list(normalize_file(path, rules, **options))  # type: ignore[arg-type]


def costs_of(batches: list[NormalizedBatch]) -> dict[tuple[str, str, str], int]:
    """Node costs as {(node, date, dimension): micros}."""
    totals = CostTotals()
    for batch in batches:
        totals.add(batch.costs)
    return {
        (r["node"], r["date"].isoformat(), r["dimension"]): r["amount_micros"]
        for r in totals.result().to_pylist()
    }
