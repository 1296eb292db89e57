"""Calendar days: the charge dates the platform accepts and inclusive day ranges.

Plain Python (no pydantic), so the engine and the file readers import it without the
models' start-up cost (`finops allocate` reads and allocates without pydantic,
decision 0360). `periods` re-exports these names beside the pydantic period models.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

__all__ = ["FIRST_DAY", "LAST_DAY", "DayRange", "day_problem", "days_between"]

# The charge dates the platform accepts. Outside them a date is a data error (a
# 9999-12-30 event once stalled the allocator's router for good); refusing it at the
# edge keeps every later step (partitions, day arrays, windows) inside known bounds.
FIRST_DAY: Final = date(2000, 1, 1)
LAST_DAY: Final = date(2099, 12, 31)


def day_problem(day: date) -> str | None:
    """Why `day` cannot be a charge date, or None."""
    if FIRST_DAY <= day <= LAST_DAY:
        return None
    return (
        f"{day.isoformat()} is outside {FIRST_DAY.isoformat()}..{LAST_DAY.isoformat()}"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class DayRange:
    """An inclusive range of calendar days [first, last]."""

    first: date
    last: date

    @property
    def count(self) -> int:
        return (self.last - self.first).days + 1

    def index_of(self, day: date) -> int:
        return (day - self.first).days

    def days(self) -> list[date]:
        return days_between(self.first, self.last)


def days_between(first: date, last: date) -> list[date]:
    """Every day from first to last, both included."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
