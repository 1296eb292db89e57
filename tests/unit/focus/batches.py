"""Running the normaliser over test files and reading back node costs."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict, Unpack

from finops.domain.focus.aggregate import CostTotals
from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.normalize import NormalizedBatch, normalize_file
from finops.domain.focus.readers import Progress


class _Options(TypedDict, total=False):
    """normalize_file's keyword arguments."""

    source: str | None
    profile: str | None
    bill_format: str
    keep_lines: bool
    on_progress: Progress | None


def run(
    path: Path, rules: MappingRules, **options: Unpack[_Options]
) -> list[NormalizedBatch]:
    """All batches of one file."""
    return list(normalize_file(path, rules, **options))


def costs_of(batches: list[NormalizedBatch]) -> dict[tuple[str, str, str], int]:
    """Node costs as {(node, date, dimension): micros}."""
    totals = CostTotals()
    for batch in batches:
        totals.add(batch.costs)
    return {
        (r["node"], r["date"].isoformat(), r["dimension"]): r["amount_micros"]
        for r in totals.result().to_pylist()
    }
