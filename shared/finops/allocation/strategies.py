"""Share functions: one per strategy, one signature, registered in one table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np
from numpy.typing import NDArray

from finops.allocation.usage import UsageView
from finops.rules import AllocationRule, Fallback, StrategyName

__all__ = ["STRATEGIES", "EdgeGroup", "ShareFunction", "group_shares"]

Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class EdgeGroup:
    """The non-fixed out-edges of one parent in one dimension, ordered by child id.

    children: (m,) node indices; active: (m, days) bool; remainder: (days,) the
    share left after the fixed-percent edges; rules: one per edge, same strategy.
    """

    children: NDArray[np.int64]
    rules: tuple[AllocationRule, ...]
    active: NDArray[np.bool_]
    remainder: Matrix

    @property
    def rule(self) -> AllocationRule:
        """The rule the group shares (strategy, metric, fallback)."""
        return self.rules[0]

    @property
    def count(self) -> Matrix:
        """Active edges per day (m in the formulas)."""
        return self.active.sum(axis=0).astype(np.float64)


class ShareFunction(Protocol):
    def __call__(self, edges: EdgeGroup, usage: UsageView) -> Matrix:
        """Shares of the parent's cost: row per edge, column per day, columns <= 1."""


def usage_of(edges: EdgeGroup, usage: UsageView) -> Matrix:
    """Each edge's child usage under its own rule; zero where the edge is inactive."""
    first = edges.rules[0]
    if all(rule == first for rule in edges.rules):
        values = usage.values(first, edges.children)
    else:
        rows = [
            usage.values(rule, edges.children[i : i + 1])
            for i, rule in enumerate(edges.rules)
        ]
        values = np.vstack(rows)
    return np.where(edges.active, values, 0.0)


def _even(edges: EdgeGroup) -> Matrix:
    """1/m on each active edge."""
    return np.divide(
        edges.active,
        edges.count,
        out=np.zeros(edges.active.shape),
        where=edges.count > 0,
    )


def _weights(edges: EdgeGroup, u: Matrix) -> Matrix:
    """u/Σu per day; where Σu = 0, the fallback (even split, or nothing)."""
    total = u.sum(axis=0)
    w = np.divide(u, total, out=np.zeros_like(u), where=total > 0)
    if edges.rule.fallback is Fallback.EQUAL:
        w = np.where(total > 0, w, _even(edges))
    return w


def equal_shares(edges: EdgeGroup, usage: UsageView) -> Matrix:
    """r/m each."""
    return edges.remainder * _even(edges)


def proportional_shares(edges: EdgeGroup, usage: UsageView) -> Matrix:
    """r x u/Σu (also weighted_average and segment_filtered; u differs)."""
    return edges.remainder * _weights(edges, usage_of(edges, usage))


def capped_shares(edges: EdgeGroup, usage: UsageView) -> Matrix:
    """Proportional, each edge capped; excess re-spread over uncapped edges."""
    w = _weights(edges, usage_of(edges, usage))
    cap = np.array([r.cap for r in edges.rules])[:, np.newaxis] * edges.active
    capped = np.zeros(w.shape, dtype=bool)
    shares = edges.remainder * w
    for _ in range(len(edges.rules)):
        over = ~capped & (shares > cap + 1e-15)
        if not over.any():
            break
        capped |= over
        free_w = np.where(capped, 0.0, w)
        budget = np.maximum(edges.remainder - (cap * capped).sum(axis=0), 0.0)
        norm = free_w.sum(axis=0)
        spread = np.divide(free_w, norm, out=np.zeros_like(w), where=norm > 0)
        shares = np.where(capped, cap, budget * spread)
    return shares


def hybrid_shares(edges: EdgeGroup, usage: UsageView) -> Matrix:
    """r x (f/m + (1 - f) x u/Σu)."""
    f = edges.rule.fixed_fraction
    w = _weights(edges, usage_of(edges, usage))
    return edges.remainder * (f * _even(edges) + (1.0 - f) * w)


def min_floor_shares(edges: EdgeGroup, usage: UsageView) -> Matrix:
    """r/m each if m·f ≥ 1, else r x (f + (1 - m·f) x u/Σu)."""
    f = edges.rule.floor_fraction
    m = edges.count
    w = _weights(edges, usage_of(edges, usage))
    floored = f * edges.active + np.maximum(1.0 - m * f, 0.0) * w
    return edges.remainder * np.where(m * f >= 1.0, _even(edges), floored)


def residual_to_max_shares(edges: EdgeGroup, usage: UsageView) -> Matrix:
    """All of r to the child with the highest usage (ties: smallest id)."""
    u = usage_of(edges, usage)
    total = u.sum(axis=0)
    top = np.argmax(np.where(edges.active, u, -np.inf), axis=0)
    winner = np.zeros(u.shape)
    winner[top, np.arange(u.shape[1])] = 1.0
    winner *= edges.active
    fallback = _even(edges) if edges.rule.fallback is Fallback.EQUAL else 0.0 * u
    return edges.remainder * np.where(total > 0, winner, fallback)


STRATEGIES: Final[dict[StrategyName, ShareFunction]] = {
    StrategyName.EQUAL: equal_shares,
    StrategyName.PROPORTIONAL: proportional_shares,
    StrategyName.WEIGHTED_AVERAGE: proportional_shares,
    StrategyName.SEGMENT_FILTERED_PROPORTIONAL: proportional_shares,
    StrategyName.CAPPED_PROPORTIONAL: capped_shares,
    StrategyName.HYBRID_FIXED_PROPORTIONAL: hybrid_shares,
    StrategyName.MIN_FLOOR_PROPORTIONAL: min_floor_shares,
    StrategyName.RESIDUAL_TO_MAX: residual_to_max_shares,
}


def group_shares(edges: EdgeGroup, usage: UsageView) -> Matrix:
    """Shares of a group by its strategy."""
    return STRATEGIES[edges.rule.strategy](edges, usage)
