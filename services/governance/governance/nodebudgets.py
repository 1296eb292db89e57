"""Node budgets evaluated as arrays: one period's cumulative spend per node gives every
budget's spend and forecast in a few vector operations, and only the thresholds whose
crossed-or-not differs from their stored state go on to the exact, per-budget path.

Equal to the scalar path by construction: the same integer sums, the same projection
(`forecast.project`, vectorised with the same half-to-even rounding) and the same
exact threshold (`evaluation.threshold_micros`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Final

import numpy as np
from numpy.typing import NDArray

from finops.domain.budgets import Basis, Budget, Period
from finops.domain.money import to_micros
from governance.evaluation import Crossing, threshold_micros
from governance.forecast import div_half_even, projection_window

__all__ = ["NodeGroup", "group_node_budgets"]

_INT64_MAX: Final = 2**63 - 1
StateKey = tuple[str, date, Decimal, Basis]


@dataclass
class NodeGroup:
    """The node budgets (no dimension) sharing a period kind and start."""

    period: Period
    start: date | None
    budgets: list[Budget] = field(default_factory=list)
    pair_budget: NDArray[np.int64] = field(
        default_factory=lambda: np.zeros(0, np.int64)
    )
    pair_limit: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    pair_forecast: NDArray[np.bool_] = field(
        default_factory=lambda: np.zeros(0, np.bool_)
    )
    pair_key: list[tuple[str, Decimal, Basis]] = field(default_factory=list)
    pair_position: dict[tuple[str, Decimal, Basis], int] = field(default_factory=dict)
    _columns: NDArray[np.int64] | None = None
    _columns_for: int = -1  # the index's size the columns were looked up at

    def spend(
        self,
        cumulative: NDArray[np.int64],
        index: dict[str, int],
        *,
        first: date,
        end: date,
        as_of: date,
        window: int,
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(spent, forecast) per budget, in micro-units."""
        count = len(self.budgets)
        if as_of < first or count == 0:
            zero = np.zeros(count, np.int64)
            return zero, zero.copy()
        held = cumulative.shape[1]
        # one more column, all zero, for nodes without stored results (-1 reads it)
        padded = np.pad(cumulative, ((0, 0), (0, 1)))
        columns = self._node_columns(index).copy()
        columns[columns >= held] = -1
        upto = (as_of - first).days + 1
        spent = padded[upto, columns]
        span = projection_window(first=first, end=end, as_of=as_of, window=window)
        if span is None:
            return spent, spent.copy()
        lookback_first, days, left = span
        recent = spent - padded[(lookback_first - first).days, columns]
        if left and np.abs(recent).max(initial=0) > _INT64_MAX // (2 * left):
            projected = np.array(
                [div_half_even(int(r) * left, days) for r in recent], np.int64
            )
        else:
            projected = _div_half_even_array(recent * left, days)
        return spent, spent + projected

    def _node_columns(self, index: dict[str, int]) -> NDArray[np.int64]:
        """Each budget's node column; looked up again only when the index grew (it
        never renumbers a node)."""
        if self._columns is None or self._columns_for != len(index):
            self._columns = np.fromiter(
                (index.get(b.scope.node or "", -1) for b in self.budgets),
                np.int64,
                len(self.budgets),
            )
            self._columns_for = len(index)
        return self._columns

    def crossed(
        self, spent: NDArray[np.int64], forecast: NDArray[np.int64]
    ) -> NDArray[np.bool_]:
        """Per (budget, threshold) pair: at or above it."""
        value = np.where(
            self.pair_forecast, forecast[self.pair_budget], spent[self.pair_budget]
        )
        return value >= self.pair_limit

    def firing(
        self, states: Mapping[StateKey, Crossing], first: date
    ) -> NDArray[np.bool_]:
        """Per pair: whether its stored state says it is crossed in this period."""
        return np.fromiter(
            (
                state.firing if (state := states.get((b, first, p, k))) else False
                for b, p, k in self.pair_key
            ),
            np.bool_,
            len(self.pair_key),
        )


def group_node_budgets(budgets: list[Budget]) -> list[NodeGroup]:
    """Node budgets without a dimension, grouped, with their thresholds as arrays."""
    groups: dict[tuple[Period, date | None], NodeGroup] = {}
    pairs: dict[tuple[Period, date | None], list[tuple[int, int, bool]]] = {}
    for budget in budgets:
        if budget.scope.node is None or budget.scope.dimension is not None:
            continue
        key = (budget.period, budget.start)
        group = groups.setdefault(key, NodeGroup(budget.period, budget.start))
        position = len(group.budgets)
        group.budgets.append(budget)
        amount = to_micros(budget.amount)
        for threshold in budget.thresholds:
            limit = min(threshold_micros(threshold, amount), _INT64_MAX)
            pairs.setdefault(key, []).append(
                (position, limit, threshold.basis is Basis.FORECAST)
            )
            percent, basis = threshold.key()
            group.pair_position[(budget.id, percent, basis)] = len(group.pair_key)
            group.pair_key.append((budget.id, percent, basis))
    for key, group in groups.items():
        rows = pairs.get(key, [])
        group.pair_budget = np.array([r[0] for r in rows], np.int64)
        group.pair_limit = np.array([r[1] for r in rows], np.int64)
        group.pair_forecast = np.array([r[2] for r in rows], np.bool_)
    return list(groups.values())


def _div_half_even_array(
    numerator: NDArray[np.int64], denominator: int
) -> NDArray[np.int64]:
    quotient, remainder = np.divmod(numerator, denominator)
    twice = 2 * remainder
    up = (twice > denominator) | ((twice == denominator) & (quotient % 2 == 1))
    result: NDArray[np.int64] = quotient + up.astype(np.int64)
    return result
