"""Charge periods: UTC-aware, half-open [start, end)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator

__all__ = ["ChargePeriod", "DayRange", "days_between"]


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
