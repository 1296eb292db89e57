"""The allocation engine: full allocation of a graph, then incremental updates."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from finops.domain.allocation.plans import Head, ParentPlan, build_plan, build_plans
from finops.domain.allocation.propagation import CostState, full_pass, propagate
from finops.domain.allocation.tables import CostTable, UsageTable, to_day_numbers
from finops.domain.allocation.usage import (
    StackedUsage,
    UsagePatch,
    UsageSource,
    UsageView,
)
from finops.domain.costgraph import CostGraph, EdgeFields, GraphFields, build_graph
from finops.domain.days import DayRange
from finops.domain.rules import AllocationRule, StrategyName, check_parent_rules
from finops.errors import GraphError, InputError

if TYPE_CHECKING:  # the pydantic record models are imported where records are read
    from finops.domain.records import NodeCost, UsageRecord

__all__ = ["AllocationEngine", "ChangeSet", "CostUpdate"]

_EPOCH = date(1970, 1, 1)
# Above this many changed nodes one level-batched pass beats walking the changes.
_FULL_PASS_SEEDS = 32

CostUpdate = tuple[str, date, str, int]  # node, day, dimension, micros


@dataclass(frozen=True)
class ChangeSet:
    """The (day, dimension) cells an update recomputed."""

    cells: frozenset[tuple[date, str]]


class AllocationEngine:
    """Holds a graph, its costs and usage, and the allocation of every node and day."""

    def __init__(
        self,
        graph: CostGraph,
        costs: CostTable | Future[CostTable],
        usage: UsageTable | StackedUsage | None = None,
        *,
        days: DayRange | None = None,
        dimensions: Sequence[str] | None = None,
        executor: Executor | None = None,
    ) -> None:
        """executor, when given, builds the direct array while this thread builds
        the plans, then takes half of the first full pass's splits (it is not
        kept: later passes run on the caller's thread).

        costs may be a table still being read: with days and dimensions given, the
        plans are built meanwhile, and the table is awaited for the direct array
        (its error, if any, comes before the plans' errors).

        usage may be a StackedUsage: one view per day of the range, each day's
        shares read from its own view.
        """
        if days is None or dimensions is None:
            known = costs.result() if isinstance(costs, Future) else costs
            days = days or _cost_days(known)
            dimensions = sorted(known.dimensions) if dimensions is None else dimensions
            costs = known
        self.graph = graph
        self.days = days
        self.dimensions = list(dimensions)
        self._dim_index = {d: i for i, d in enumerate(self.dimensions)}
        self._day_numbers = np.arange(self.days.count) + (self.days.first - _EPOCH).days
        self._heads: dict[str, Head] = {}  # per parent, while its edges stay
        self._read_from: dict[str, dict[str, int]] = {}  # see _reads
        self.usage: UsageSource = self._usage_of(usage or UsageTable.empty())
        direct, plans = self._direct_and_plans(costs, executor)
        order = [graph.index[n] for n in graph.order]
        self.state = CostState(direct, np.zeros_like(direct), plans, order)
        full_pass(self.state, executor)

    def _direct_and_plans(
        self, costs: CostTable | Future[CostTable], executor: Executor | None
    ) -> tuple[NDArray[np.int64], dict[int, ParentPlan]]:
        """The direct array (NumPy, mostly without the GIL) on the executor while
        this thread builds the plans (mostly Python); the direct array's error, if
        any, comes first, as when it is built first."""
        if executor is None:
            table = costs.result() if isinstance(costs, Future) else costs
            direct = _direct_array(table, self.graph, self.days, self._dim_index)
            return direct, self._all_plans()
        job = executor.submit(
            _direct_array, costs, self.graph, self.days, self._dim_index
        )
        try:
            plans = self._all_plans(executor)
        except BaseException:
            job.result()  # raises the direct array's error first, if it has one
            raise
        return job.result(), plans

    @classmethod
    def from_records(
        cls,
        spec: GraphFields,
        costs: Iterable[NodeCost],
        usage: Iterable[UsageRecord] = (),
        **options: Any,
    ) -> AllocationEngine:
        """Build from a graph spec and records (the stream processor's entry point)."""
        table = CostTable.from_records(costs)
        return cls(build_graph(spec), table, UsageTable.from_records(usage), **options)

    def set_node_cost(
        self, node: str, day: date, dimension: str, micros: int
    ) -> ChangeSet:
        """Replace one node's direct cost on one day in one dimension."""
        return self.set_node_costs(node, day, {dimension: micros})

    def set_node_costs(
        self, node: str, day: date, amounts: Mapping[str, int]
    ) -> ChangeSet:
        """Replace one node's direct costs on one day, per dimension.

        Values replace, never add, so replaying an update changes nothing.
        """
        n, t = self.node_index(node), self.day_index(day)
        mask = np.zeros(self.state.cells, dtype=bool)
        for dimension, micros in amounts.items():
            k = self.dimension_index(dimension)
            if self.state.direct[n, t, k] != micros:
                self.state.direct[n, t, k] = micros
                mask[t * len(self.dimensions) + k] = True
        return self._apply({n: mask})

    def update(
        self,
        costs: Iterable[CostUpdate] = (),
        usage: UsageTable | StackedUsage | None = None,
        usage_nodes: Collection[str] = (),
        usage_metrics: Collection[str] | None = None,
        *,
        usage_patch: UsagePatch | None = None,
    ) -> ChangeSet:
        """Apply many changes in one pass; equal to applying them one by one.

        costs replace direct amounts; usage, when given, replaces all usage, and
        usage_nodes names the nodes whose usage differs (the plans of their parents
        whose rules use usage are rebuilt); usage_metrics, when given, the only
        metrics whose usage differs (parents whose rules use none keep their plans).
        usage_patch, instead of usage, replaces the rows of some nodes only; the
        plans rebuilt are those of parents with a rule that reads a cell it changed
        (its metric, on a day of the range or of a window ending in it).
        """
        seeds: dict[int, NDArray[np.bool_]] = {}
        n_dims = len(self.dimensions)
        for node, day, dimension, micros in costs:
            n, t = self.node_index(node), self.day_index(day)
            k = self.dimension_index(dimension)
            if self.state.direct[n, t, k] != micros:
                self.state.direct[n, t, k] = micros
                mask = seeds.setdefault(n, np.zeros(self.state.cells, dtype=bool))
                mask[t * n_dims + k] = True
        everything = False
        if usage is not None:
            everything = self._replace_usage(usage, usage_nodes, seeds, usage_metrics)
        elif usage_patch is not None:
            everything = self._patch_usage(usage_patch, seeds)
        if everything or len(seeds) > _FULL_PASS_SEEDS:
            full_pass(self.state)
            return self._changes(np.ones(self.state.cells, dtype=bool))
        return self._apply(seeds)

    def _usage_of(self, usage: UsageTable | StackedUsage) -> UsageSource:
        """The engine's view of a usage table, or stacked views of its days."""
        if isinstance(usage, StackedUsage):
            if len(usage.views) != self.days.count:
                raise ValueError("stacked usage needs one view per day of the range")
            return usage
        return _usage_view(
            self.graph, usage, int(self._day_numbers[0]), self.days.count
        )

    def _replace_usage(
        self,
        table: UsageTable | StackedUsage,
        nodes: Collection[str],
        seeds: dict[int, NDArray[np.bool_]],
        metrics: Collection[str] | None = None,
    ) -> bool:
        """Adopt new usage; rebuild the plans of the changed nodes' parents (see
        _rebuild)."""
        self.usage = self._usage_of(table)
        candidates = {p for node in nodes for p in self.graph.parents(node)}
        parents = sorted(p for p in candidates if self._uses_usage(p, metrics))
        return self._rebuild(parents, seeds)

    def _patch_usage(
        self, patch: UsagePatch, seeds: dict[int, NDArray[np.bool_]]
    ) -> bool:
        """Replace some nodes' usage rows; rebuild the plans of the parents that see
        a changed cell (see _rebuild)."""
        if not isinstance(self.usage, UsageView):
            raise ValueError("a usage patch needs the engine's own usage view")
        self.usage.replace_nodes(patch)
        last = int(self._day_numbers[-1])
        parents: set[str] = set()
        for node, day, metric in patch.cells:
            for parent in self.graph.parents(self.graph.ids[node]):
                start = self._reads(parent).get(metric)
                if start is not None and start <= day <= last:
                    parents.add(parent)
        return self._rebuild(sorted(parents), seeds)

    def _rebuild(self, parents: list[str], seeds: dict[int, NDArray[np.bool_]]) -> bool:
        """Rebuild some parents' plans from the current usage.

        Returns True when so many plans changed that a full pass follows anyway (the
        seeds are then left as they are), else seeds the parents whose shares changed.
        """
        plans = self._plans_of(parents)
        everything = len(plans) + len(seeds) > _FULL_PASS_SEEDS
        for parent, plan in plans.items():
            p = self.graph.index[parent]
            old = self.state.plans[p]
            moved = _moved_shares(old, plan)
            if moved is not None and not moved.any():
                continue  # keep the old object: nothing downstream re-compares it
            self.state.plans[p] = plan
            if everything:
                continue
            if moved is None:
                moved = (plan.shares != old.shares).any(axis=0)
            changed = moved[:, plan.dim_config]
            if changed.any():
                mask = seeds.setdefault(p, np.zeros(self.state.cells, dtype=bool))
                mask |= changed.ravel()
        return everything

    def _reads(self, parent: str) -> dict[str, int]:
        """Per metric a parent's rules read, the first day number they read: the
        range's first, or for a weighted average the first of the window ending
        on it (kept while the parent's edges stay)."""
        reads = self._read_from.get(parent)
        if reads is None:
            first = int(self._day_numbers[0])
            reads = self._read_from[parent] = {}
            for rule in (r for group in self._rules(parent) for r in group):
                if rule.metric is not None:
                    start = first - _lead(rule)
                    reads[rule.metric] = min(start, reads.get(rule.metric, start))
        return reads

    def _uses_usage(self, parent: str, metrics: Collection[str] | None = None) -> bool:
        """Whether a parent's shares depend on usage (of one of `metrics`, if given)."""
        head = self._heads.get(parent)
        if head is not None and (metrics is None or not head.uses_usage):
            return head.uses_usage
        rules = self._rules(parent)
        if metrics is None:
            return any(r.metric is not None for group in rules for r in group)
        return any(r.metric in metrics for group in rules for r in group)

    def _rules(self, parent: str) -> list[tuple[AllocationRule, ...]]:
        """A parent's rules per dimension config."""
        head = self._heads.get(parent)
        if head is not None:
            return head.config_rules
        return self.state.plans[self.graph.index[parent]].config_rules

    def set_usage(
        self,
        node: str,
        day: date,
        metric: str,
        value: float,
        labels: Mapping[str, Any] | None = None,
    ) -> ChangeSet:
        """Replace one node's usage rows of one metric on one day by one value."""
        if value < 0 or not np.isfinite(value):
            raise InputError(f"usage of {node} on {day}: bad value {value}")
        n = self.node_index(node)
        self.usage.set_value(n, (day - _EPOCH).days, metric, value, dict(labels or {}))
        seeds: dict[int, NDArray[np.bool_]] = {}
        for parent in self.graph.parents(node):
            p = self.graph.index[parent]
            old = self.state.plans[p]
            if any(r.metric == metric for rules in old.config_rules for r in rules):
                new = self._plan(parent)
                self.state.plans[p] = new
                changed = (new.shares != old.shares).any(axis=0)
                seeds[p] = changed[:, new.dim_config].ravel()
        return self._apply(seeds)

    def upsert_edge(self, edge: EdgeFields) -> ChangeSet:
        """Add an edge, or replace the one with the same ends and start."""
        same = _edge_key(edge)
        edges = [e for e in self.graph.spec.edges if _edge_key(e) != same]
        return self._replace_edges(edge.from_, [*edges, edge])

    def remove_edge(
        self, from_: str, to: str, active_from: date | None = None
    ) -> ChangeSet:
        """Remove the edge with these ends and start."""
        key = (from_, to, active_from)
        edges = [e for e in self.graph.spec.edges if _edge_key(e) != key]
        if len(edges) == len(self.graph.spec.edges):
            raise GraphError(f"no edge {from_} -> {to} starting {active_from}")
        return self._replace_edges(from_, edges)

    def _replace_edges(self, parent: str, edges: list[EdgeFields]) -> ChangeSet:
        graph = build_graph(self.graph.spec.with_edges(edges))
        check_parent_rules(graph, parent)
        self.graph = graph
        self._heads.clear()
        self._read_from.clear()
        self.state.set_order([graph.index[n] for n in graph.order])
        p = graph.index[parent]
        seeds = self._withdraw(p)
        if parent in graph.out_edges:
            plan = self._plan(parent)
            self.state.plans[p] = plan
            self.state.flows[p] = np.zeros(
                (len(plan.children), *self.state.direct.shape[1:]), dtype=np.int64
            )
            seeds[p] = np.ones(self.state.cells, dtype=bool)
        return self._apply(seeds)

    def _withdraw(self, p: int) -> dict[int, NDArray[np.bool_]]:
        """Take back everything parent p passed on; its children become dirty."""
        plan, flows = self.state.plans.pop(p, None), self.state.flows.pop(p, None)
        seeds: dict[int, NDArray[np.bool_]] = {}
        if self.state.out is not None:
            self.state.out[p] = 0
        if plan is None or flows is None:
            return seeds
        for row, child in enumerate(plan.children.tolist()):
            self.state.received[child] -= flows[row]
            mask = flows[row].ravel() != 0
            seeds[child] = seeds[child] | mask if child in seeds else mask
        return seeds

    def _apply(self, seeds: dict[int, NDArray[np.bool_]]) -> ChangeSet:
        return self._changes(propagate(self.state, seeds))

    def _changes(self, touched: NDArray[np.bool_]) -> ChangeSet:
        n_dims = len(self.dimensions)
        cells = frozenset(
            (
                self.days.first + timedelta(days=int(c) // n_dims),
                self.dimensions[int(c) % n_dims],
            )
            for c in np.flatnonzero(touched)
        )
        return ChangeSet(cells)

    def _all_plans(self, executor: Executor | None = None) -> dict[int, ParentPlan]:
        """Plans of every parent by node index (see build_plans for executor)."""
        plans = self._plans_of(list(self.graph.out_edges), executor)
        return {self.graph.index[p]: plan for p, plan in plans.items()}

    def _plans_of(
        self, parents: list[str], executor: Executor | None = None
    ) -> dict[str, ParentPlan]:
        """Plans of some parents, computed in strategy batches."""
        built = build_plans(
            [self.graph.out_edges[p] for p in parents],
            index=self.graph.index,
            dimensions=self.dimensions,
            usage=self.usage,
            days=self._day_numbers,
            heads=self._heads,
            executor=executor,
        )
        return dict(zip(parents, built, strict=True))

    def _plan(self, parent: str) -> ParentPlan:
        return build_plan(
            self.graph.out_edges[parent],
            index=self.graph.index,
            dimensions=self.dimensions,
            usage=self.usage,
            days=self._day_numbers,
        )

    def node_index(self, node: str) -> int:
        """Array index of a node; InputError if the graph has no such node."""
        if node not in self.graph.index:
            raise InputError(f"unknown node {node!r}")
        return self.graph.index[node]

    def day_index(self, day: date) -> int:
        """Array index of a day; InputError outside the engine's range."""
        if not self.days.first <= day <= self.days.last:
            raise InputError(
                f"day {day} is outside {self.days.first}..{self.days.last}"
            )
        return self.days.index_of(day)

    def dimension_index(self, dimension: str) -> int:
        """Array index of a dimension; InputError if unknown."""
        if dimension not in self._dim_index:
            raise InputError(f"unknown dimension {dimension!r}")
        return self._dim_index[dimension]


def _lead(rule: AllocationRule) -> int:
    """Days before the first of a range whose usage a rule reads."""
    if rule.strategy is StrategyName.WEIGHTED_AVERAGE:
        return rule.window_days - 1
    return 0


def _edge_key(edge: EdgeFields) -> tuple[str, str, date | None]:
    return (edge.from_, edge.to, edge.active_from)


def _cost_days(costs: CostTable) -> DayRange:
    if costs.day.size == 0:
        raise InputError("no costs to allocate and no day range given")
    first, last = int(costs.day.min()), int(costs.day.max())
    return DayRange(
        first=_EPOCH + timedelta(days=first), last=_EPOCH + timedelta(days=last)
    )


def one_day_usage(graph: CostGraph, table: UsageTable, day: date) -> UsageView:
    """The usage view a one-day engine of `day` builds from `table` (a day of a
    StackedUsage); InputError when the table names a node the graph lacks."""
    return _usage_view(graph, table, (day - _EPOCH).days, 1)


def _usage_view(
    graph: CostGraph, table: UsageTable, first_day: int, n_days: int
) -> UsageView:
    """A usage table as the view of a range of days (by day number)."""
    return UsageView(
        table,
        _node_codes(table.node_ids, graph.index, "usage"),
        n_nodes=len(graph.ids),
        first_day=first_day,
        n_days=n_days,
    )


def _node_codes(
    ids: Sequence[str], index: dict[str, int], what: str
) -> NDArray[np.int64]:
    unknown = [n for n in ids if n not in index]
    if unknown:
        raise InputError(f"{what} names unknown node {unknown[0]!r}")
    return np.array([index[n] for n in ids], dtype=np.int64)


def _direct_array(
    costs: CostTable | Future[CostTable],
    graph: CostGraph,
    days: DayRange,
    dims: dict[str, int],
) -> NDArray[np.int64]:
    """(nodes, days, dims) direct costs; rows outside the day range are left out."""
    if isinstance(costs, Future):
        costs = costs.result()
    unknown = [d for d in costs.dimensions if d not in dims]
    if unknown:
        raise InputError(f"costs name unknown dimension {unknown[0]!r}")
    node = _node_codes(costs.node_ids, graph.index, "costs")[costs.node]
    dim = np.array([dims[d] for d in costs.dimensions], dtype=np.int64)[costs.dimension]
    t = costs.day - to_day_numbers([days.first])[0]
    micros = costs.micros
    if t.size and (t.min() < 0 or t.max() >= days.count):
        keep = np.flatnonzero((t >= 0) & (t < days.count))
        node, t, dim, micros = node[keep], t[keep], dim[keep], micros[keep]
    direct = np.zeros((len(graph.ids), days.count, len(dims)), dtype=np.int64)
    flat = node * days.count
    flat += t
    flat *= len(dims)
    flat += dim
    # A CostTable holds one row per node, day and dimension, so plain assignment.
    direct.reshape(-1)[flat] = micros
    return direct


def _moved_shares(old: ParentPlan | None, new: ParentPlan) -> NDArray[np.bool_] | None:
    """Where a rebuilt plan's shares differ from the plan it replaces, per (day,
    config), when both have the same rules, children and configs (else None). None
    moved: the old object is kept, so consumers that compare plans by identity (the
    allocator's share rows) skip it."""
    if (
        old is None
        or old.config_rules != new.config_rules
        or not np.array_equal(old.children, new.children)
        or not np.array_equal(old.dim_config, new.dim_config)
        or old.shares.shape != new.shares.shape
    ):
        return None
    moved: NDArray[np.bool_] = (old.shares != new.shares).any(axis=0)
    return moved
