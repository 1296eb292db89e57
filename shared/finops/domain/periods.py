"""Charge periods: UTC-aware, half-open [start, end)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "FIRST_DAY",
    "LAST_DAY",
    "ChargeDate",
    "ChargePeriod",
    "DayRange",
    "day_problem",
    "days_between",
]

# The charge dates the platform accepts. Outside them a date is a data error (a
# 9999-12-30 event once stalled the allocator's router for good); refusing it at the
# edge keeps every later step (partitions, day arrays, windows) inside known bounds.
FIRST_DAY: Final = date(2000, 1, 1)
LAST_DAY: Final = date(2099, 12, 31)

ChargeDate = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]
"""A date within FIRST_DAY..LAST_DAY."""


def day_problem(day: date) -> str | None:
    """Why `day` cannot be a charge date, or None."""
    if FIRST_DAY <= day <= LAST_DAY:
        return None
    return (
        f"{day.isoformat()} is outside {FIRST_DAY.isoformat()}..{LAST_DAY.isoformat()}"
    )


class ChargePeriod(BaseModel):
    """A half-open UTC interval [start, end)."""

    model_config = ConfigDict(frozen=True)
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _check_order(self) -> ChargePeriod:
        if self.end < self.start:
            raise ValueError(
                f"period ends ({self.end}) before it starts ({self.start})"
            )
        return self

    @classmethod
    def for_day(cls, day: date) -> ChargePeriod:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return cls(start=start, end=start + timedelta(days=1))


class DayRange(BaseModel):
    """An inclusive range of calendar days [first, last]."""

    model_config = ConfigDict(frozen=True)
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
