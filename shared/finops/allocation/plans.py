"""Per-parent share plans: out-edges, children, shares for every day and dimension."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from finops.allocation.strategies import EdgeGroup, group_shares
from finops.allocation.tables import to_day_numbers
from finops.allocation.usage import UsageView
from finops.dag import EdgeSpec
from finops.rules import AllocationRule, check_rules, rule_for

__all__ = ["ParentPlan", "build_plan"]


@dataclass
class ParentPlan:
    """How one parent splits its cost.

    shares: (k, days, configs); dim_config maps each dimension to a config column;
    config_rules holds the rule of every edge per config (for explain and checks).
    """

    edges: tuple[EdgeSpec, ...]
    children: NDArray[np.int64]
    dim_config: NDArray[np.int64]
    config_rules: list[tuple[AllocationRule, ...]]
    shares: NDArray[np.float64]

    @property
    def has_repeated_child(self) -> bool:
        """Whether two edges (with disjoint windows) reach the same child."""
        return len(set(self.children.tolist())) < len(self.children)

    def share_cells(self, cells: NDArray[np.int64] | None) -> NDArray[np.float64]:
        """Shares (k, n) for flat day-by-dimension cells; None means every cell."""
        if cells is None:
            return self.shares[:, :, self.dim_config].reshape(len(self.children), -1)
        n_dims = len(self.dim_config)
        return self.shares[:, cells // n_dims, self.dim_config[cells % n_dims]]


def build_plan(
    edges: Sequence[EdgeSpec],
    *,
    index: dict[str, int],
    dimensions: Sequence[str],
    usage: UsageView,
    days: NDArray[np.int64],
) -> ParentPlan:
    """Shares of one parent's out-edges (sorted by child id) for all days."""
    children = np.array([index[e.to] for e in edges], dtype=np.int64)
    overridden = sorted({d for e in edges for d in e.dimensions if d in dimensions})
    configs: list[str | None] = [None, *overridden]
    dim_config = np.array(
        [configs.index(d) if d in overridden else 0 for d in dimensions], dtype=np.int64
    )
    active = activity(edges, days)
    config_rules = [tuple(rule_for(e, d) for e in edges) for d in configs]
    absent = {d for e in edges for d in e.dimensions} - set(overridden)
    checks = [*zip(configs, config_rules, strict=True)]
    checks += [(d, tuple(rule_for(e, d) for e in edges)) for d in sorted(absent)]
    for dimension, rules in checks:
        check_rules(edges[0].from_, dimension, list(edges), list(rules))
    shares = np.stack(
        [_config_shares(children, rules, active, usage) for rules in config_rules],
        axis=2,
    )
    return ParentPlan(tuple(edges), children, dim_config, config_rules, shares)


def activity(edges: Sequence[EdgeSpec], days: NDArray[np.int64]) -> NDArray[np.bool_]:
    """(k, days) whether each edge is active on each day."""
    if not any(e.active_from or e.active_to for e in edges):
        return np.ones((len(edges), days.size), dtype=bool)
    lo = to_day_numbers(e.active_from for e in edges if e.active_from)
    hi = to_day_numbers(e.active_to for e in edges if e.active_to)
    starts = np.full(len(edges), np.iinfo(np.int64).min)
    ends = np.full(len(edges), np.iinfo(np.int64).max)
    starts[[i for i, e in enumerate(edges) if e.active_from]] = lo
    ends[[i for i, e in enumerate(edges) if e.active_to]] = hi
    return (days >= starts[:, np.newaxis]) & (days < ends[:, np.newaxis])


def _config_shares(
    children: NDArray[np.int64],
    rules: tuple[AllocationRule, ...],
    active: NDArray[np.bool_],
    usage: UsageView,
) -> NDArray[np.float64]:
    """(k, days) shares: fixed percents first, the group shares the remainder."""
    is_fixed = np.array([r.is_fixed for r in rules], dtype=bool)
    percent = np.array([r.percent for r in rules])[:, np.newaxis]
    shares = np.where(is_fixed[:, np.newaxis] & active, percent, 0.0)
    remainder = np.maximum(1.0 - shares.sum(axis=0), 0.0)
    rest = np.flatnonzero(~is_fixed)
    if rest.size:
        group = EdgeGroup(
            children=children[rest],
            rules=tuple(rules[i] for i in rest),
            active=active[rest],
            remainder=remainder,
        )
        shares[rest] = group_shares(group, usage)
    return shares
