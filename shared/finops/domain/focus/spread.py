"""Exact spreading of a line's cost over the UTC days of its charge period."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = ["DAY_MICROSECONDS", "DaySpread", "count_days", "spread_over_days"]

DAY_MICROSECONDS: Final = 86_400_000_000


@dataclass(frozen=True, slots=True)
class DaySpread:
    """Per-day parts of lines: source row, day (days since 1970-01-01), micro-units,
    and the part below the micro-unit (pico-units, 10^-12; zero unless given)."""

    rows: NDArray[np.int64]
    days: NDArray[np.int64]
    amounts: NDArray[np.int64]
    picos: NDArray[np.int64]


def count_days(
    start_us: NDArray[np.int64], end_us: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """First UTC day of each period and the number of days it touches (at least 1).

    Periods are half-open, so an hourly line ending at midnight stays on its day.
    """
    first = start_us // DAY_MICROSECONDS
    end_day = -(-end_us // DAY_MICROSECONDS)
    return first, np.maximum(end_day - first, 1)


def spread_over_days(
    amounts: NDArray[np.int64],
    start_us: NDArray[np.int64],
    end_us: NDArray[np.int64],
    picos: NDArray[np.int64] | None = None,
) -> DaySpread:
    """Split each amount evenly over its days; parts sum exactly to the amount.

    Leftover micro-units go one each to the earliest days; credits split the same
    way with a negative sign. `picos`, what rounding each amount to micro-units
    took off, is split the same way in pico-units, so each line's parts sum
    exactly to its unrounded cost (rounded once, per node and day, later).
    """
    picos = np.zeros_like(amounts) if picos is None else picos
    first, counts = count_days(start_us, end_us)
    if counts.size == 0 or int(counts.max()) == 1:
        rows = np.arange(amounts.size, dtype=np.int64)
        return DaySpread(rows, first, amounts, picos)
    rows = np.repeat(np.arange(amounts.size, dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    offsets = np.arange(rows.size, dtype=np.int64) - np.repeat(starts, counts)
    return DaySpread(
        rows,
        first[rows] + offsets,
        _split(amounts, counts, rows, offsets),
        _split(picos, counts, rows, offsets),
    )


def _split(
    values: NDArray[np.int64],
    counts: NDArray[np.int64],
    rows: NDArray[np.int64],
    offsets: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Even parts of each value over its days, leftover units to the earliest."""
    base, leftover = np.divmod(np.abs(values), counts)
    parts = base[rows] + (offsets < leftover[rows])
    return np.asarray(np.sign(values)[rows] * parts, dtype=np.int64)
