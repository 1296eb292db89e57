"""Running the normaliser over test files and reading back node costs."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, Final, TypedDict, Unpack

from finops.domain.focus.aggregate import CostTotals
from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.normalize import NormalizedBatch, normalize_file
from finops.domain.focus.readers import Progress

MICRO: Final = Decimal("0.000001")
PICO: Final = Decimal("0.000000000001")


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
        totals.add(batch.unit_costs)
    return {
        (r["node"], r["date"].isoformat(), r["dimension"]): r["amount_micros"]
        for r in totals.result().to_pylist()
    }


def day_parts(cost: Decimal, first: date, days: int) -> list[tuple[date, Decimal]]:
    """A line's exact parts per day, as docs/ingest.md says, written again in
    Decimal: the cost rounded to micro-units is split evenly (leftover micro-units
    one each to the earliest days), and so is what that rounding took off, in
    pico-units (10^-12); credits split the same way with a negative sign."""
    micros = int(cost.quantize(MICRO, ROUND_HALF_EVEN) / MICRO)
    picos = int((cost - micros * MICRO) / PICO)
    return [
        (
            first + timedelta(days=i),
            _part(micros, days, i) * MICRO + _part(picos, days, i) * PICO,
        )
        for i in range(days)
    ]


def _part(value: int, days: int, day: int) -> int:
    base, leftover = divmod(abs(value), days)
    return (base + (day < leftover)) * (1 if value >= 0 else -1)


def round_once(groups: dict[Any, Decimal]) -> int:
    """The micro-units of the groups' sums, each rounded half to even once."""
    return sum(int(v.quantize(MICRO, ROUND_HALF_EVEN) / MICRO) for v in groups.values())
