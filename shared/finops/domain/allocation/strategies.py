"""Share functions: one per strategy, one signature, registered in one table."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Final, Protocol

import numpy as np
from numpy.typing import NDArray

from finops.domain.allocation.usage import UsageSource, usage_code
from finops.domain.rules import AllocationRule, Fallback, StrategyName

__all__ = ["STRATEGIES", "EdgeGroup", "ShareFunction", "group_shares"]

Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class EdgeGroup:
    """The non-fixed out-edges of one or more parents in one dimension.

    Rows are edges, parent after parent (`sizes` rows each), ordered by child id;
    children: (m,) node indices; active: (m, days); remainder: (m, days), the share
    its parent has left after fixed-percent edges; rules: one per edge. All
    parents use one strategy. Per-parent sums use `total`, so a parent's shares are
    the same bits whether it is computed alone or with others.
    """

    children: NDArray[np.int64]
    rules: tuple[AllocationRule, ...]
    active: NDArray[np.bool_]
    remainder: Matrix
    sizes: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    # Per edge, when the caller has them already: usage_code of its rule, and
    # whether its rule falls back to an even split.
    usage_codes: NDArray[np.int64] | None = None
    fallback_equal: NDArray[np.bool_] | None = None

    @cached_property
    def starts(self) -> NDArray[np.int64]:
        """First row of each parent."""
        sizes = self.sizes if self.sizes.size else np.array([len(self.children)])
        return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

    def per_row(self, per_parent: Matrix) -> Matrix:
        """Repeat one row per parent onto each of its edges."""
        sizes = self.sizes if self.sizes.size else np.array([len(self.children)])
        return np.repeat(per_parent, sizes, axis=0)

    def total(self, values: Matrix) -> Matrix:
        """Each parent's sum over its edges, on every row of that parent."""
        return self.per_row(np.add.reduceat(values, self.starts, axis=0))

    def param(self, name: str) -> Matrix:
        """A numeric rule parameter as a column, one value per edge."""
        return np.array([getattr(r, name) for r in self.rules])[:, np.newaxis]

    @cached_property
    def count(self) -> Matrix:
        """Active edges of the edge's parent per day (m in the formulas)."""
        return self.total(self.active.astype(np.float64))

    @cached_property
    def equal_fallback(self) -> NDArray[np.bool_]:
        """Whether each edge's parent falls back to an even split."""
        if self.fallback_equal is not None:
            return self.fallback_equal[:, None]
        return np.array([r.fallback is Fallback.EQUAL for r in self.rules])[:, None]


class ShareFunction(Protocol):
    def __call__(self, edges: EdgeGroup, usage: UsageSource) -> Matrix:
        """Shares of the parent's cost: row per edge, column per day, columns <= 1."""


def usage_of(edges: EdgeGroup, usage: UsageSource) -> Matrix:
    """Each edge's child usage under its own rule; zero where the edge is inactive."""
    codes = edges.usage_codes
    if codes is None:
        codes = np.array([usage_code(r) for r in edges.rules], dtype=np.int64)
    values = np.zeros(edges.active.shape)
    first = codes[0] if codes.size else 0
    if codes.size and (codes == first).all():  # the common case: one usage key
        values[:] = usage.values(edges.rules[0], edges.children)
    else:
        # sorted(set()), not np.unique: that imports numpy.ma (~0.01 s) on first use.
        for code in sorted(set(codes.tolist())):
            rows = np.flatnonzero(codes == code)
            values[rows] = usage.values(edges.rules[rows[0]], edges.children[rows])
    return np.where(edges.active, values, 0.0)


def _even(edges: EdgeGroup) -> Matrix:
    """1/m on each active edge."""
    count = edges.count
    return np.divide(edges.active, count, out=np.zeros(count.shape), where=count > 0)


def _weights(edges: EdgeGroup, u: Matrix) -> Matrix:
    """u/Σu per day; where Σu = 0, the fallback (even split, or nothing)."""
    total = edges.total(u)
    w = np.divide(u, total, out=np.zeros_like(u), where=total > 0)
    return np.where((total > 0) | ~edges.equal_fallback, w, _even(edges))


def equal_shares(edges: EdgeGroup, usage: UsageSource) -> Matrix:
    """r/m each."""
    return edges.remainder * _even(edges)


def proportional_shares(edges: EdgeGroup, usage: UsageSource) -> Matrix:
    """r x u/sum(u) (also weighted_average and segment_filtered; u differs)."""
    return edges.remainder * _weights(edges, usage_of(edges, usage))


def capped_shares(edges: EdgeGroup, usage: UsageSource) -> Matrix:
    """Proportional, each edge capped; excess re-spread over uncapped edges."""
    w = _weights(edges, usage_of(edges, usage))
    cap = edges.param("cap") * edges.active
    capped = np.zeros(w.shape, dtype=bool)
    shares = edges.remainder * w
    for _ in range(int(edges.count.max(initial=0)) + 1):
        over = ~capped & (shares > cap + 1e-15)
        # A parent stops on a day once none of its edges is over that day (as it
        # would alone, and over that day alone), so its shares are the same bits
        # whatever else is in the batch and whatever other days the range holds.
        going = edges.total(over.astype(np.float64)) > 0
        if not going.any():
            break
        capped |= over
        free_w = np.where(capped, 0.0, w)
        budget = np.maximum(edges.remainder - edges.total(cap * capped), 0.0)
        norm = edges.total(free_w)
        spread = np.divide(free_w, norm, out=np.zeros_like(w), where=norm > 0)
        shares = np.where(going, np.where(capped, cap, budget * spread), shares)
    return shares


def hybrid_shares(edges: EdgeGroup, usage: UsageSource) -> Matrix:
    """r x (f/m + (1 - f) x u/sum(u))."""
    f = edges.param("fixed_fraction")
    w = _weights(edges, usage_of(edges, usage))
    return edges.remainder * (f * _even(edges) + (1.0 - f) * w)


def min_floor_shares(edges: EdgeGroup, usage: UsageSource) -> Matrix:
    """r/m each if m*f >= 1, else r x (f + (1 - m*f) x u/sum(u))."""
    f = edges.param("floor_fraction")
    m = edges.count
    w = _weights(edges, usage_of(edges, usage))
    floored = f * edges.active + np.maximum(1.0 - m * f, 0.0) * w
    return edges.remainder * np.where(m * f >= 1.0, _even(edges), floored)


def residual_to_max_shares(edges: EdgeGroup, usage: UsageSource) -> Matrix:
    """All of r to the child with the highest usage (ties: smallest id)."""
    u = usage_of(edges, usage)
    masked = np.where(edges.active, u, -np.inf)
    top = edges.per_row(np.maximum.reduceat(masked, edges.starts, axis=0))
    is_top = edges.active & (masked == top)
    # Only the first top row of each parent wins: its running count is 1.
    running = np.cumsum(is_top, axis=0)
    before = edges.per_row(
        np.vstack([np.zeros((1, u.shape[1])), running])[edges.starts]
    )
    winner = is_top & (running - before == 1)
    total = edges.total(u)
    fallback = np.where(edges.equal_fallback, _even(edges), 0.0)
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


def group_shares(edges: EdgeGroup, usage: UsageSource) -> Matrix:
    """Shares of a group by its strategy."""
    return STRATEGIES[edges.rules[0].strategy](edges, usage)
