"""Busy charge dates kept warm: their engine between recomputes, their last frame.

A recompute of a date whose engine is kept applies only the nodes that changed
(`AllocationEngine.update`) instead of building the date again, and the new results
are compared with the frame last handed to the store, cell by cell, so only node
rows that changed are written, with the shares of the parents whose plan was
replaced (flows are derived from both in PostgreSQL). Results equal a fresh
`finops allocate` of the date's inputs.
"""

from __future__ import annotations

import asyncio
import functools
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from allocator.compute.daydelta import build_engine, cost_updates, frame_changes
from allocator.compute.encoding import encode_changes
from allocator.compute.group import DayGroup, Item, build_group, group_run
from allocator.compute.shares import share_rows
from allocator.inputs.columns import UsageRows
from allocator.inputs.days import DayInputs, Touched
from allocator.pgcopy.delta import EncodedDelta
from finops.domain.allocation.engine import AllocationEngine
from finops.domain.allocation.frames import ResultFrame, capture
from finops.domain.dag import CostGraph
from finops.errors import FinopsError, InputError

__all__ = ["Computed", "LiveDays"]

_V = TypeVar("_V")


@dataclass(frozen=True)
class Computed:
    """A recomputed date: what to write and the rows left out (unknown nodes)."""

    delta: EncodedDelta
    skipped: int
    built: str | None = None  # why the date's engine was built afresh, if it was


class LiveDays:
    """Engines of the most recently recomputed dates and frames of the stored ones.

    `compute` runs in a worker thread (`allocate`) or in the compute process
    (`allocator.compute.process`), one date at a time; the rest from the event loop.
    """

    def __init__(self, *, engines: int, frames: int) -> None:
        self._engines: OrderedDict[date, AllocationEngine] = OrderedDict()
        self._group: DayGroup | None = None  # consecutive busy dates on one engine
        # The frame whose node rows and shares were last handed to the store, per
        # date (None: the date has no rows; absent: unknown).
        self._frames: OrderedDict[date, ResultFrame | None] = OrderedDict()
        self._usage: dict[date, tuple[CostGraph, UsageRows]] = {}
        self._keep_engines, self._keep_frames = engines, frames
        # Changed node rows from this many on come in binary COPY format (None: never).
        self.encode_nodes_from: int | None = None
        self._generation = 0  # bumped by clear(): a compute across it keeps nothing
        self.pending: dict[date, Touched] = {}

    def touch(self, day: date, touched: Touched) -> None:
        """Nodes of a date changed by an input."""
        self.pending.setdefault(day, Touched()).add(touched)

    def take(self, day: date) -> Touched:
        """The changes of a date not yet computed (cleared)."""
        return self.pending.pop(day, None) or Touched()

    async def allocate(
        self,
        graph: CostGraph,
        day: date,
        inputs: DayInputs,
        touched: Touched,
    ) -> Computed:
        """compute() in a worker thread, so the event loop keeps answering."""
        snapshot = _snapshot(inputs)
        return await asyncio.to_thread(self.compute, graph, day, snapshot, touched)

    async def allocate_many(
        self, graph: CostGraph, items: Sequence[Item]
    ) -> list[asyncio.Future[Computed | FinopsError]]:
        """compute_many() in a worker thread, on snapshots of the dates' inputs; a
        future per date (all done when this returns)."""
        snapshots = [
            (day, _snapshot(inputs), touched) for day, inputs, touched in items
        ]
        outcomes = await asyncio.to_thread(self.compute_many, graph, snapshots)
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Computed | FinopsError]] = []
        for outcome in outcomes:
            future: asyncio.Future[Computed | FinopsError] = loop.create_future()
            future.set_result(outcome)
            futures.append(future)
        return futures

    def compute(
        self,
        graph: CostGraph,
        day: date,
        inputs: DayInputs,
        touched: Touched,
    ) -> Computed:
        """Allocate a date (incrementally when its engine is kept) and diff it: its
        changed node rows and the shares of its replaced plans."""
        outcome = self.compute_many(graph, [(day, inputs, touched)])[0]
        if isinstance(outcome, FinopsError):
            raise outcome
        return outcome

    def compute_many(
        self, graph: CostGraph, items: Sequence[Item]
    ) -> list[Computed | FinopsError]:
        """Allocate dates, each as `compute` does (see compute_each)."""
        return list(self.compute_each(graph, items))

    def compute_each(
        self, graph: CostGraph, items: Sequence[Item]
    ) -> Iterator[Computed | FinopsError]:
        """Allocate dates, each as `compute` does: the dates of the kept group on its
        engine, a run of consecutive busy dates on a new group's, the others one by
        one (decision 0320). The group's engine is updated first, then each date is
        diffed in the items' order and given as soon as it is: per date, what it
        computed or the input's error."""
        generation = self._generation
        grouped = self._grouped(graph, items)
        for day, inputs, touched in items:
            try:
                if day in grouped:
                    skipped, built = grouped[day]
                    yield self._group_day(day, skipped, built, generation)
                else:
                    yield self._compute_one(graph, day, inputs, touched, generation)
            except FinopsError as exc:
                yield exc

    def _grouped(
        self, graph: CostGraph, items: Sequence[Item]
    ) -> dict[date, tuple[int, str | None]]:
        """Update the kept group with the items it covers, or build a group over a
        run of them; the dates so computed, with their rows left out and why the
        engine was built (None: updated)."""
        rows = functools.partial(self._rows, graph=graph)
        if self._group is not None and self._group.graph is not graph:
            self._group = None
        group = self._group
        inside = [item for item in items if group and group.covers(item[0])]
        if group is not None and inside:
            if all(inputs.costs for _, inputs, _ in inside):
                try:
                    skipped = group.update(inside, rows)
                    return {day: (n, None) for day, n in skipped.items()}
                except FinopsError:  # e.g. new dimensions: each date tells its own
                    pass
            self._group = None  # its dates are allocated one by one from now on
            return {}
        busy = {item[0]: item for item in items if item[1].costs}
        runs = [group_run(day, busy) for day in sorted(busy)]
        run = max(runs, key=len, default=[])
        if len(run) < 2:
            return {}
        try:
            built = build_group(graph, [busy[day] for day in run], rows)
        except FinopsError:  # allocated one by one, each date with its own error
            built = None
        if built is None:
            return {}
        self._group, skipped = built
        for day in run:
            self._engines.pop(day, None)
        return {day: (n, "grouped") for day, n in skipped.items()}

    def _group_day(
        self, day: date, skipped: int, built: str | None, generation: int
    ) -> Computed:
        """A date of the group, diffed with its frame last stored."""
        assert self._group is not None
        known = day in self._frames
        old = self._frames.get(day)
        new = self._group.frame(day, old)
        changes = frame_changes(day, old, new, known=known)
        shares = share_rows(old, new, known=known)
        delta = encode_changes(changes, self.encode_nodes_from, shares)
        if generation == self._generation:
            self._keep_results(day, None, new)
        return Computed(delta, skipped, built)

    def _compute_one(
        self,
        graph: CostGraph,
        day: date,
        inputs: DayInputs,
        touched: Touched,
        generation: int,
    ) -> Computed:
        """A date on its own engine (kept, or built afresh)."""
        engine = self._engines.pop(day, None)
        skipped, built = 0, None
        if engine is None:
            built = "not kept"
        elif engine.graph is not graph:
            engine, built = None, "graph changed"
        else:
            try:
                skipped = _update(engine, day, inputs, touched, self._rows(day, graph))
            except InputError:  # e.g. a dimension the engine lacks: build it again
                engine, built = None, "dimensions changed"
        if engine is None:
            engine, skipped = build_engine(graph, day, inputs)
            self._usage.pop(day, None)  # its usage columns start again from a table
        known = day in self._frames
        old = self._frames.get(day)
        new = capture(engine, previous=old, flows=False) if engine is not None else None
        changes = frame_changes(day, old, new, known=known)
        shares = share_rows(old, new, known=known)
        delta = encode_changes(changes, self.encode_nodes_from, shares)
        if generation == self._generation:
            self._keep_results(day, engine, new)
        return Computed(delta, skipped, built if engine is not None else None)

    def _keep_results(
        self, day: date, engine: AllocationEngine | None, frame: ResultFrame | None
    ) -> None:
        if engine is not None:
            self._keep(self._engines, day, engine, self._keep_engines)
        group = self._group
        self._usage = {
            d: r
            for d, r in self._usage.items()
            if d in self._engines or (group is not None and group.covers(d))
        }
        self._frames.pop(day, None)
        self._keep(self._frames, day, frame, self._keep_frames)

    def _rows(self, day: date, graph: CostGraph) -> UsageRows:
        """The date's usage columns (kept while its engine or group is)."""
        rows = self._usage.get(day)
        if rows is None or rows[0] is not graph:
            rows = self._usage[day] = (graph, UsageRows(graph.ids, graph.index))
        return rows[1]

    def forget(self, day: date) -> None:
        """The date's last results may not be stored: write it whole next time."""
        self._frames.pop(day, None)

    def clear(self) -> None:
        """After a rebalance: nothing kept is trusted."""
        self._generation += 1
        self._group = None
        self._engines.clear()
        self._usage.clear()
        self._frames.clear()
        self.pending.clear()

    @staticmethod
    def _keep(kept: OrderedDict[date, _V], day: date, value: _V, limit: int) -> None:
        kept[day] = value
        while len(kept) > limit:
            kept.popitem(last=False)


def _snapshot(inputs: DayInputs) -> DayInputs:
    """The inputs as they are now: values are replaced, never changed in place, so
    shallow copies are a snapshot."""
    return DayInputs(dict(inputs.costs), dict(inputs.usage))


def _update(
    engine: AllocationEngine,
    day: date,
    inputs: DayInputs,
    touched: Touched,
    rows: UsageRows,
) -> int:
    """Apply a date's changed nodes to its engine; returns the rows left out.

    InputError when the date's dimensions are no longer the engine's.
    """
    costs, skipped = cost_updates(engine, day, inputs, touched)
    if not touched.usage:
        engine.update(costs)
    elif (patch := rows.patch(inputs.usage)) is not None:
        engine.update(costs, usage_patch=patch)  # the rows of the changed nodes
    else:  # the first update since the engine was built: every row, once
        nodes = {n for n in touched.usage if n in engine.graph.index}
        engine.update(costs, rows.table(inputs.usage), nodes, touched.usage_metrics)
    return skipped
