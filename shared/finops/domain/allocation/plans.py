"""Per-parent share plans: out-edges, children, shares for every day and dimension."""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from finops.domain.allocation.strategies import EdgeGroup, group_shares
from finops.domain.allocation.tables import to_day_numbers
from finops.domain.allocation.twothreads import on_two_threads
from finops.domain.allocation.usage import UsageSource, usage_code
from finops.domain.costgraph import EdgeFields
from finops.domain.rules import AllocationRule, Fallback, check_rules, rule_for
from finops.errors import GraphError

__all__ = ["Head", "ParentPlan", "build_plan", "build_plans", "parent_head"]


@dataclass
class ParentPlan:
    """How one parent splits its cost.

    shares: (k, days, configs); dim_config maps each dimension to a config column;
    config_rules holds the rule of every edge per config (for explain and checks).
    """

    edges: tuple[EdgeFields, ...]
    children: NDArray[np.int64]
    dim_config: NDArray[np.int64]
    config_rules: list[tuple[AllocationRule, ...]]
    shares: NDArray[np.float64]
    _every_cell: NDArray[np.float64] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def share_cells(self, cells: NDArray[np.int64] | None) -> NDArray[np.float64]:
        """Shares (k, n) for flat day-by-dimension cells; None means every cell.

        A plan's shares are never changed in place (a new plan replaces it), so the
        every-cell view is computed once.
        """
        if cells is None:
            if self._every_cell is None:
                k = len(self.children)
                self._every_cell = self.shares[:, :, self.dim_config].reshape(k, -1)
            return self._every_cell
        n_dims = len(self.dim_config)
        return self.shares[:, cells // n_dims, self.dim_config[cells % n_dims]]

    def write_cells(self, out: NDArray[np.float64]) -> None:
        """Write the (k, days, dims) shares of every cell into out (any strides),
        without keeping them: `share_cells(None)` in another layout."""
        if self._every_cell is not None:
            out[...] = self._every_cell.reshape(out.shape)
        elif len(self.dim_config) and not self.dim_config.any():
            out[...] = self.shares[:, :, :1]  # one config for every dimension
        else:
            np.take(self.shares, self.dim_config, axis=2, out=out, mode="clip")


# Edges per batch of share computation: big enough to amortise, small in memory.
_BATCH_EDGES = 4096
# From this many parents without dimension overrides, their heads are built together.
_PLAIN_HEADS_MIN = 2


class _Config(NamedTuple):
    """What one parent's rules in one dimension config say, as per-edge arrays (a
    named tuple, as `Head`: one per parent and config is made per build)."""

    rules: tuple[AllocationRule, ...]
    strategy: str | None  # the group strategy (None when every edge is fixed_percent)
    fixed: NDArray[np.bool_]
    percent: NDArray[np.float64]
    equal_fallback: NDArray[np.bool_]
    usage_codes: NDArray[np.int64]  # usage_code of each edge's rule

    @classmethod
    def of(cls, rules: tuple[AllocationRule, ...]) -> _Config:
        return cls(
            rules,
            next((str(r.strategy) for r in rules if not r.is_fixed), None),
            np.array([r.is_fixed for r in rules], dtype=bool),
            np.array([r.percent for r in rules], dtype=np.float64),
            np.array([r.fallback is Fallback.EQUAL for r in rules], dtype=bool),
            np.array([usage_code(r) for r in rules], dtype=np.int64),
        )


class Head(NamedTuple):
    """A parent's children, dimension configs, checked rules and active days: what
    its plan depends on besides usage (kept while its edges stay; a named tuple:
    thousands are made per build, at half a frozen dataclass's cost)."""

    children: NDArray[np.int64]
    dim_config: NDArray[np.int64]
    config_rules: list[tuple[AllocationRule, ...]]
    active: NDArray[np.bool_]
    configs: tuple[_Config, ...]
    uses_usage: bool  # whether some edge's share depends on usage


class _Draft(NamedTuple):
    """One parent's edges in one dimension config, ready for share computation
    (a named tuple: thousands are made per build, at half a frozen dataclass's
    cost)."""

    children: NDArray[np.int64]
    config: _Config
    active: NDArray[np.bool_]


def build_plan(edges: Sequence[EdgeFields], **context: Any) -> ParentPlan:
    """Shares of one parent's out-edges (sorted by child id) for all days."""
    return build_plans([edges], **context)[0]


def build_plans(
    edge_lists: Sequence[Sequence[EdgeFields]],
    *,
    index: dict[str, int],
    dimensions: Sequence[str],
    usage: UsageSource,
    days: NDArray[np.int64],
    heads: MutableMapping[str, Head] | None = None,
    executor: Executor | None = None,
) -> list[ParentPlan]:
    """Plans of many parents; shares are computed in batches of one strategy.

    heads, when given, keeps each parent's children, configs and checked rules (they
    depend on its edges, the index, the dimensions and the days only) for next time.
    executor, when given, computes every other batch's shares beside this thread
    (the same bits: each batch is computed alone either way).
    """
    heads_ = _heads_of(edge_lists, index, dimensions, days, heads)
    drafts = [
        _Draft(head.children, config, head.active)
        for head in heads_
        for config in head.configs
    ]
    shares = iter(_batched_shares(drafts, usage, executor))
    plans = []
    for edges, head in zip(edge_lists, heads_, strict=True):
        if len(head.configs) == 1:
            stacked = next(shares)[:, :, np.newaxis]
        else:
            stacked = np.stack([next(shares) for _ in head.configs], axis=2)
        plans.append(
            ParentPlan(
                tuple(edges), head.children, head.dim_config, head.config_rules, stacked
            )
        )
    return plans


def parent_head(
    edges: Sequence[EdgeFields],
    *,
    index: dict[str, int],
    dimensions: Sequence[str],
    days: NDArray[np.int64],
    heads: MutableMapping[str, Head] | None = None,
) -> Head:
    """A parent's head, from heads when kept there (and kept there when new)."""
    parent = edges[0].from_
    head = heads.get(parent) if heads is not None else None
    if head is None:
        head = _head(edges, index, dimensions, days)
        if heads is not None:
            heads[parent] = head
    return head


def _head(
    edges: Sequence[EdgeFields],
    index: dict[str, int],
    dimensions: Sequence[str],
    days: NDArray[np.int64],
) -> Head:
    """Children, dimension configs and checked rules of one parent."""
    children = np.array([index[e.to] for e in edges], dtype=np.int64)
    overridden = sorted({d for e in edges for d in e.dimensions if d in dimensions})
    configs: list[str | None] = [None, *overridden]
    dim_config = np.array(
        [configs.index(d) if d in overridden else 0 for d in dimensions], dtype=np.int64
    )
    config_rules = [tuple(rule_for(e, d) for e in edges) for d in configs]
    absent = {d for e in edges for d in e.dimensions} - set(overridden)
    checks = [*zip(configs, config_rules, strict=True)]
    checks += [(d, tuple(rule_for(e, d) for e in edges)) for d in sorted(absent)]
    for dimension, rules in checks:
        check_rules(edges[0].from_, dimension, list(edges), list(rules))
    return Head(
        children,
        dim_config,
        config_rules,
        activity(edges, days),
        tuple(_Config.of(rules) for rules in config_rules),
        any(r.metric is not None for rules in config_rules for r in rules),
    )


def _heads_of(
    edge_lists: Sequence[Sequence[EdgeFields]],
    index: dict[str, int],
    dimensions: Sequence[str],
    days: NDArray[np.int64],
    heads: MutableMapping[str, Head] | None,
) -> list[Head]:
    """Every parent's head: kept ones as they are, parents whose edges override no
    dimension all at once (`_plain_heads`), the others one by one."""
    found: list[Head | None] = [
        heads.get(edges[0].from_) if heads is not None else None for edges in edge_lists
    ]
    plain = [
        i
        for i, edges in enumerate(edge_lists)
        if found[i] is None and not any(e.dimensions for e in edges)
    ]
    if len(plain) >= _PLAIN_HEADS_MIN:
        try:
            built = _plain_heads(
                [edge_lists[i] for i in plain], index, len(dimensions), days
            )
        except GraphError:
            built = []  # one by one below, so the first defect in order is named
        for i, head in zip(plain, built, strict=False):
            found[i] = head
            if heads is not None:
                heads[edge_lists[i][0].from_] = head
    return [
        head
        if head is not None
        else parent_head(
            edges, index=index, dimensions=dimensions, days=days, heads=heads
        )
        for edges, head in zip(edge_lists, found, strict=True)
    ]


def _plain_heads(
    edge_lists: Sequence[Sequence[EdgeFields]],
    index: dict[str, int],
    n_dims: int,
    days: NDArray[np.int64],
) -> list[Head]:
    """Heads of parents none of whose edges overrides a dimension (one config each),
    built from arrays over all their edges; equal to `_head` of each.

    Raises GraphError when some rule or parent is wrong (the caller then builds the
    heads one by one, which names the first defect as `_head` does).
    """
    edges = [e for group in edge_lists for e in group]
    sizes = np.array([len(group) for group in edge_lists], dtype=np.int64)
    ends = np.cumsum(sizes)
    starts = ends - sizes
    children = np.array([index[e.to] for e in edges], dtype=np.int64)
    rules = _plain_rules(edges)
    # Graphs repeat a few rule objects on thousands of edges: per-rule facts once.
    codes: dict[int, int] = {}
    distinct: list[AllocationRule] = []
    rule_code = np.empty(len(rules), dtype=np.int64)
    for i, rule in enumerate(rules):
        code = codes.get(id(rule))
        if code is None:
            code = codes[id(rule)] = len(distinct)
            distinct.append(rule)
        rule_code[i] = code
    config = _Config.of(tuple(distinct))
    fixed = config.fixed[rule_code]
    groups: dict[tuple[object, ...], int] = {}
    group = np.array(
        [groups.setdefault(r.group_key, len(groups)) for r in distinct], dtype=np.int64
    )[rule_code]
    # One group key among each parent's non-fixed edges; fixed percents checked as
    # `check_rules` does, on the parents that have some.
    lowest = np.minimum.reduceat(np.where(fixed, len(groups), group), starts)
    highest = np.maximum.reduceat(np.where(fixed, -1, group), starts)
    with_fixed = np.flatnonzero(np.add.reduceat(fixed.astype(np.int64), starts))
    mixed = np.flatnonzero((highest >= 0) & (lowest < highest))
    for p in sorted({*mixed.tolist(), *with_fixed.tolist()}):
        a, b = int(starts[p]), int(ends[p])
        check_rules(edges[a].from_, None, list(edges[a:b]), rules[a:b])
    active = activity(edges, days)
    # Per parent: the rule of its first non-fixed edge (its group's strategy, when
    # it has one) and whether some edge's share depends on usage.
    first_open = np.minimum.reduceat(
        np.where(fixed, len(edges), np.arange(len(edges))), starts
    )
    has_open = first_open < ends
    open_rule = rule_code[np.where(has_open, first_open, starts)]
    strategy = [str(r.strategy) for r in distinct]
    names = [
        strategy[c] if has else None
        for c, has in zip(open_rule.tolist(), has_open.tolist(), strict=True)
    ]
    metric = np.array([r.metric is not None for r in distinct], dtype=bool)
    uses_usage = np.logical_or.reduceat(metric[rule_code], starts).tolist()
    percent = config.percent[rule_code]
    equal = config.equal_fallback[rule_code]
    usage_codes = config.usage_codes[rule_code]
    heads = []
    for a, b, name, uses in zip(
        starts.tolist(), ends.tolist(), names, uses_usage, strict=True
    ):
        rules_ = tuple(rules[a:b])
        heads.append(
            Head(
                children[a:b],
                np.zeros(n_dims, dtype=np.int64),
                [rules_],
                active[a:b],
                (
                    _Config(
                        rules_,
                        name,
                        fixed[a:b],
                        percent[a:b],
                        equal[a:b],
                        usage_codes[a:b],
                    ),
                ),
                uses,
            )
        )
    return heads


def _plain_rules(edges: Sequence[EdgeFields]) -> list[AllocationRule]:
    """`rule_for` of each edge (none overrides a dimension), asking it once per
    distinct strategy and parameters: thousands of edges share a few rules."""
    seen: dict[tuple[str, str], AllocationRule] = {}
    rules = []
    for edge in edges:
        key = (edge.strategy, repr(edge.params))
        rule = seen.get(key)
        if rule is None:
            rule = seen[key] = rule_for(edge)
        rules.append(rule)
    return rules


def _batched_shares(
    drafts: list[_Draft], usage: UsageSource, executor: Executor | None = None
) -> list[NDArray[np.float64]]:
    """(k, days) shares per draft, computed strategy by strategy in chunks (on two
    threads with an executor)."""
    by_strategy: dict[str | None, list[int]] = {}
    for i, draft in enumerate(drafts):
        by_strategy.setdefault(draft.config.strategy, []).append(i)
    chunks = [c for members in by_strategy.values() for c in _chunks(members, drafts)]
    results: list[NDArray[np.float64]] = [np.zeros(0)] * len(drafts)

    def compute(chunk: list[int]) -> None:
        batch = [drafts[i] for i in chunk]
        for i, shares in zip(chunk, _shares_of(batch, usage), strict=True):
            results[i] = shares

    if executor is None or len(chunks) < 2:
        for chunk in chunks:
            compute(chunk)
    else:
        on_two_threads(compute, chunks, executor)
    return results


def _chunks(members: list[int], drafts: list[_Draft]) -> list[list[int]]:
    chunks: list[list[int]] = [[]]
    size = 0
    for i in members:
        if chunks[-1] and size + len(drafts[i].children) > _BATCH_EDGES:
            chunks.append([])
            size = 0
        chunks[-1].append(i)
        size += len(drafts[i].children)
    return chunks


def activity(edges: Sequence[EdgeFields], days: NDArray[np.int64]) -> NDArray[np.bool_]:
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


def _shares_of(drafts: list[_Draft], usage: UsageSource) -> list[NDArray[np.float64]]:
    """Shares of parents with one group strategy: fixed percents, then the group."""
    sizes = np.array([len(d.children) for d in drafts], dtype=np.int64)
    ends = np.cumsum(sizes)
    starts = (ends - sizes).astype(np.int64)
    configs = [d.config for d in drafts]
    active = np.vstack([d.active for d in drafts])
    is_fixed = np.concatenate([c.fixed for c in configs])
    percent = np.concatenate([c.percent for c in configs])[:, np.newaxis]
    shares = np.where(is_fixed[:, np.newaxis] & active, percent, 0.0)
    remainder = np.maximum(1.0 - np.add.reduceat(shares, starts, axis=0), 0.0)
    rest = np.flatnonzero(~is_fixed)
    if rest.size:
        rules = tuple(chain.from_iterable(c.rules for c in configs))
        everything = rest.size == len(rules)
        parent = np.repeat(np.arange(len(drafts)), sizes)
        group = EdgeGroup(
            children=np.concatenate([d.children for d in drafts])[rest],
            rules=rules if everything else tuple(map(rules.__getitem__, rest.tolist())),
            active=active[rest],
            remainder=remainder[parent[rest]],
            sizes=np.add.reduceat((~is_fixed).astype(np.int64), starts),
            usage_codes=np.concatenate([c.usage_codes for c in configs])[rest],
            fallback_equal=np.concatenate([c.equal_fallback for c in configs])[rest],
        )
        shares[rest] = group_shares(group, usage)
    return [shares[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
