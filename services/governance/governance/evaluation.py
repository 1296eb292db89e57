"""Which thresholds of a budget are crossed, and what changes (pure)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal, localcontext
from typing import Final, Literal

from finops.domain.budgets import Basis, Budget, Threshold
from finops.domain.money import to_micros

__all__ = [
    "Crossing",
    "Reading",
    "Transition",
    "alert_id",
    "crossed",
    "threshold_micros",
    "transitions",
]

_NAMESPACE: Final = uuid.UUID("5f0b7a51-3c2e-4d8e-9a56-7b1f2e0c9d11")


@dataclass(frozen=True, slots=True)
class Reading:
    """A budget's spend in one period, as of a charge date."""

    budget: Budget
    period_start: date
    period_end: date
    as_of: date
    spent_micros: int
    forecast_micros: int

    @property
    def budget_micros(self) -> int:
        return to_micros(self.budget.amount)


@dataclass(frozen=True, slots=True)
class Crossing:
    """The stored state of one (budget, period, threshold, basis)."""

    firing: bool
    crossings: int
    alert_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class Transition:
    """What to record: an alert (a new crossing) or its resolution."""

    status: Literal["alert", "resolved"]
    threshold: Threshold
    alert_id: uuid.UUID
    crossings: int


def threshold_micros(threshold: Threshold, budget_micros: int) -> int:
    """The least spend, in micro-units, at or above the threshold: spend x 100 >=
    percent x amount holds exactly when spend >= this (spend is an integer)."""
    with localcontext() as context:
        context.prec = 50  # exact for every amount and percent the file allows
        exact = Decimal(budget_micros) * threshold.percent / 100
        return int(exact.to_integral_value(rounding=ROUND_CEILING))


def crossed(reading: Reading, threshold: Threshold) -> bool:
    """Spend (or its forecast) at or above the threshold, compared exactly."""
    value = (
        reading.spent_micros
        if threshold.basis is Basis.ACTUAL
        else reading.forecast_micros
    )
    return value >= threshold_micros(threshold, reading.budget_micros)


def alert_id(
    budget_id: str, period_start: date, threshold: Threshold, n: int
) -> uuid.UUID:
    """The id of the n-th crossing: the same whenever it is computed again."""
    percent, basis = threshold.key()
    name = f"{budget_id}\x1f{period_start.isoformat()}\x1f{percent}\x1f{basis}\x1f{n}"
    return uuid.uuid5(_NAMESPACE, name)


def transitions(
    reading: Reading, states: dict[tuple[Decimal, Basis], Crossing]
) -> list[Transition]:
    """The alerts and resolutions this reading causes against the stored states.

    A threshold fires once per crossing: a reading that finds it firing already (a
    replay, a restart, a duplicate event) changes nothing; falling back under it
    resolves it, and crossing again is a new alert with a new id.
    """
    out: list[Transition] = []
    for threshold in reading.budget.thresholds:
        state = states.get(threshold.key(), Crossing(False, 0, None))
        now = crossed(reading, threshold)
        if now and not state.firing:
            n = state.crossings + 1
            ident = alert_id(reading.budget.id, reading.period_start, threshold, n)
            out.append(Transition("alert", threshold, ident, n))
        elif not now and state.firing and state.alert_id is not None:
            out.append(
                Transition("resolved", threshold, state.alert_id, state.crossings)
            )
    return out
