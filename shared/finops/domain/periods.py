"""Charge periods: UTC-aware, half-open [start, end); the charge dates' bounds and
day ranges come from `days` (plain Python) and are re-exported here."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from finops.domain.days import FIRST_DAY, LAST_DAY, DayRange, day_problem, days_between

__all__ = [
    "FIRST_DAY",
    "LAST_DAY",
    "ChargeDate",
    "ChargePeriod",
    "DayRange",
    "day_problem",
    "days_between",
]

ChargeDate = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]
"""A date within FIRST_DAY..LAST_DAY."""


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
