"""Recommendations and unit costs: the rules, pure and exact (money in micro-units).

Utilisation (the prototype's rules, made explicit):

- A utilisation metric is a usage metric whose name ends in `utilization` or
  `utilisation` (`cpu_utilization`), its values percent of capacity (0-100). A node's
  daily figure is the mean of that day's rows (labels, sources); over the window the
  rule reads the mean of the days (`average`) and their maximum (`peak`).
- `downsize` when the average and the peak are both below 30 %; otherwise `rightsize`
  when both are below 50 %. Otherwise nothing.
- The estimated saving resizes the node so its peak would sit at 70 % of capacity:
  `direct cost over the window x (1 - peak / 70)`, rounded down to the micro-unit (the
  node's own bill, its direct cost, is what a resize changes).

Unit costs: a product's holistic cost over the window divided by the sum of a usage
metric over the same days (cost per request, per user); margin is revenue (a usage
metric, by default `revenue`, in the stored currency) minus that cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Final

from finops.domain.money import MICROS_PER_UNIT

__all__ = [
    "DOWNSIZE_BELOW",
    "RIGHTSIZE_BELOW",
    "TARGET_PEAK",
    "UnitCost",
    "Utilisation",
    "is_utilisation_metric",
    "judge_utilisation",
    "unit_cost",
]

DOWNSIZE_BELOW: Final = Decimal(30)
RIGHTSIZE_BELOW: Final = Decimal(50)
TARGET_PEAK: Final = Decimal(70)
UNIT_COST_PLACES: Final = Decimal("0.000000001")  # nine decimals: cost per request
_SUFFIXES: Final = ("utilization", "utilisation")


def is_utilisation_metric(metric: str) -> bool:
    """`cpu_utilization`, `memory_utilisation`, `utilization`."""
    return metric.lower().endswith(_SUFFIXES)


@dataclass(frozen=True, slots=True)
class Utilisation:
    """What the rule says about one node and metric."""

    action: str  # "downsize" | "rightsize"
    average: Decimal
    peak: Decimal
    savings_micros: int
    reason: str


def judge_utilisation(
    average: Decimal, peak: Decimal, direct_micros: int
) -> Utilisation | None:
    """The recommendation for a node whose metric averaged `average` % and peaked at
    `peak` % over a window in which its direct cost was `direct_micros`; None when
    neither rule applies."""
    if average < DOWNSIZE_BELOW and peak < DOWNSIZE_BELOW:
        action, limit = "downsize", DOWNSIZE_BELOW
    elif average < RIGHTSIZE_BELOW and peak < RIGHTSIZE_BELOW:
        action, limit = "rightsize", RIGHTSIZE_BELOW
    else:
        return None
    fraction = 1 - max(peak, Decimal(0)) / TARGET_PEAK
    saving = (Decimal(max(direct_micros, 0)) * fraction).to_integral_value(
        rounding=ROUND_FLOOR
    )
    reason = (
        f"average {_pct(average)} % and peak {_pct(peak)} % are below {limit} %; "
        f"sized for a {TARGET_PEAK} % peak it would cost {_pct(fraction * 100)} % less"
    )
    return Utilisation(action, average, peak, int(saving), reason)


def _pct(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class UnitCost:
    """Cost per unit (nine decimals, half to even); None when no units were used."""

    cost_micros: int
    units: Decimal
    per_unit: Decimal | None


def unit_cost(cost_micros: int, units: Decimal) -> UnitCost:
    """cost / units, exact to nine decimals."""
    if units == 0:
        return UnitCost(cost_micros, units, None)
    per = (Decimal(cost_micros) / MICROS_PER_UNIT / units).quantize(
        UNIT_COST_PLACES, rounding=ROUND_HALF_EVEN
    )
    return UnitCost(cost_micros, units, per)
