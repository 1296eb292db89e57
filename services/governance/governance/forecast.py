"""The spend a budget's period is heading for (pure, exact).

forecast = spent so far + run rate x days left, where
- "so far" runs to `as_of`, the latest charge date the platform holds (the data's clock,
  not the wall clock: bills arrive late and demos replay old months);
- the run rate is the mean daily spend of the last `window` days up to `as_of` that lie
  in the period (fewer at a period's start), days without spend counting as zero;
- days left are the period's days after `as_of`.
Before the period's first day the forecast is the spend (nothing to project); on or
after its last day it is the spend too. Money stays integer micro-units; the one
division rounds half to even.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

__all__ = [
    "DEFAULT_WINDOW_DAYS",
    "div_half_even",
    "forecast_micros",
    "project",
    "projection_window",
]

DEFAULT_WINDOW_DAYS = 7


def forecast_micros(
    daily: Mapping[date, int],
    *,
    first: date,
    end: date,
    as_of: date,
    window: int = DEFAULT_WINDOW_DAYS,
) -> int:
    """Spend of [first, end) by its end, from the daily spend known up to `as_of`."""
    spent = sum(v for d, v in daily.items() if first <= d < end and d <= as_of)
    span = projection_window(first=first, end=end, as_of=as_of, window=window)
    if span is None:
        return spent
    lookback_first, days, left = span
    recent = sum(v for d, v in daily.items() if lookback_first <= d <= as_of)
    return project(spent, recent, days, left)


def projection_window(
    *, first: date, end: date, as_of: date, window: int
) -> tuple[date, int, int] | None:
    """(first day of the run-rate window, its days, days left), or None when nothing
    is projected (before the period's first day, or from its last day on)."""
    if as_of < first or as_of >= end - timedelta(days=1):
        return None
    lookback_first = max(first, as_of - timedelta(days=window - 1))
    days = (as_of - lookback_first).days + 1
    return lookback_first, days, (end - as_of).days - 1


def project(spent: int, recent: int, days: int, left: int) -> int:
    """spent + recent / days x left, the one division rounded half to even."""
    return spent + div_half_even(recent * left, days)


def div_half_even(numerator: int, denominator: int) -> int:
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient
