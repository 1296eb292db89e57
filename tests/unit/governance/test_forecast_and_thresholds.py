"""Forecast on constructed series; thresholds fire once per crossing."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

from finops.domain.budgets import Basis, Budget, Threshold
from governance.evaluation import Crossing, Reading, alert_id, crossed, transitions
from governance.forecast import forecast_micros

NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)


def _series(first: date, values: list[int]) -> dict[date, int]:
    return {first + timedelta(days=i): v for i, v in enumerate(values)}


def test_a_steady_rate_projects_to_the_rate_times_the_period() -> None:
    daily = _series(NOV, [1_000_000] * 10)  # $1 a day for ten days
    as_of = NOV + timedelta(days=9)
    assert forecast_micros(daily, first=NOV, end=DEC, as_of=as_of) == 30_000_000


def test_the_run_rate_is_the_last_window_days_only() -> None:
    # $10 a day for 20 days, then $1 a day for the last 7: rate $1, 3 days left
    daily = _series(NOV, [10_000_000] * 20 + [1_000_000] * 7)
    as_of = NOV + timedelta(days=26)
    spent = 200_000_000 + 7_000_000
    assert forecast_micros(daily, first=NOV, end=DEC, as_of=as_of) == spent + 3_000_000
    # a 3-day window sees the same $1 rate; a 10-day window sees (3x10 + 7x1) / 10
    assert forecast_micros(daily, first=NOV, end=DEC, as_of=as_of, window=3) == (
        spent + 3_000_000
    )
    assert forecast_micros(daily, first=NOV, end=DEC, as_of=as_of, window=10) == (
        spent + 3 * 3_700_000
    )


def test_days_without_spend_count_as_zero_and_early_periods_use_fewer_days() -> None:
    daily = {NOV: 4_000_000, NOV + timedelta(days=2): 2_000_000}  # day 2 is missing
    as_of = NOV + timedelta(days=2)
    # rate = 6 / 3 days; 27 days left
    assert (
        forecast_micros(daily, first=NOV, end=DEC, as_of=as_of)
        == 6_000_000 + 54_000_000
    )


def test_outside_the_period_the_forecast_is_the_spend() -> None:
    daily = _series(NOV, [1_000_000] * 30)
    assert forecast_micros(
        daily, first=NOV, end=DEC, as_of=DEC - timedelta(days=1)
    ) == (30_000_000)
    assert (
        forecast_micros(daily, first=NOV, end=DEC, as_of=date(2027, 1, 5)) == 30_000_000
    )
    assert forecast_micros({}, first=NOV, end=DEC, as_of=date(2026, 10, 31)) == 0


def test_the_one_division_rounds_half_to_even() -> None:
    # 3 micro-units over 2 days, 1 day left: 1.5 -> 2 (even); 1 over 2 days: 0.5 -> 0
    first, end = date(2026, 11, 1), date(2026, 11, 4)
    as_of = date(2026, 11, 2)
    assert forecast_micros({first: 3}, first=first, end=end, as_of=as_of) == 3 + 2
    assert forecast_micros({first: 1}, first=first, end=end, as_of=as_of) == 1 + 0


def _budget(*thresholds: Threshold) -> Budget:
    return Budget(
        id="lab", name="Lab", amount=Decimal("1.00"), thresholds=list(thresholds)
    )


def _reading(budget: Budget, spent: int, forecast: int | None = None) -> Reading:
    return Reading(
        budget, NOV, DEC, NOV, spent, spent if forecast is None else forecast
    )


EIGHTY = Threshold(percent=Decimal(80), basis=Basis.ACTUAL)
FORECAST = Threshold(percent=Decimal(100), basis=Basis.FORECAST)


def test_crossing_is_exact_at_the_micro_unit() -> None:
    budget = _budget(EIGHTY)
    assert not crossed(_reading(budget, 799_999), EIGHTY)
    assert crossed(_reading(budget, 800_000), EIGHTY)
    third = Threshold(percent=Decimal("33.3333"), basis=Basis.ACTUAL)
    assert not crossed(_reading(budget, 333_332), third)
    assert crossed(_reading(budget, 333_333), third)


def test_an_alert_fires_once_resolves_and_fires_again_with_a_new_id() -> None:
    budget = _budget(EIGHTY, FORECAST)
    states: dict[tuple[Decimal, Basis], Crossing] = {}
    first = transitions(_reading(budget, 850_000, 900_000), states)
    assert [(t.status, t.threshold) for t in first] == [("alert", EIGHTY)]
    alert = first[0]
    states[EIGHTY.key()] = Crossing(True, alert.crossings, alert.alert_id)
    # the same reading again (a replay, a duplicate event, a restart): nothing
    assert transitions(_reading(budget, 850_000, 900_000), states) == []
    assert transitions(_reading(budget, 990_000, 990_000), states) == []
    # a restatement under the threshold resolves the same alert
    resolved = transitions(_reading(budget, 500_000, 700_000), states)
    assert [(t.status, t.alert_id) for t in resolved] == [("resolved", alert.alert_id)]
    states[EIGHTY.key()] = Crossing(False, alert.crossings, alert.alert_id)
    again = transitions(_reading(budget, 810_000, 1_200_000), states)
    assert {(t.status, t.threshold) for t in again} == {
        ("alert", EIGHTY),
        ("alert", FORECAST),
    }
    new = next(t for t in again if t.threshold == EIGHTY)
    assert new.crossings == 2 and new.alert_id != alert.alert_id


def test_alert_ids_are_stable_and_distinct() -> None:
    one = alert_id("lab", NOV, EIGHTY, 1)
    assert one == alert_id("lab", NOV, Threshold(percent=Decimal("80.0")), 1)
    others = {
        alert_id("lab", NOV, EIGHTY, 2),
        alert_id("lab", DEC, EIGHTY, 1),
        alert_id("lab", NOV, FORECAST, 1),
        alert_id("lab2", NOV, EIGHTY, 1),
    }
    assert one not in others and len(others) == 4
    assert isinstance(one, uuid.UUID)
