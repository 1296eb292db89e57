"""Busy charge dates kept warm: their engine between recomputes, their last frame.

A recompute of a date whose engine is kept applies only the nodes that changed
(`AllocationEngine.update`) instead of building the date again, and the new results
are compared with the frame last handed to the store, cell by cell, so only rows that
changed are written. Results equal a fresh `finops allocate` of the date's inputs.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from allocator.compute.daydelta import build_engine, frame_changes
from allocator.compute.encoding import encode_changes
from allocator.inputs.columns import UsageRows
from allocator.inputs.days import DayInputs, Touched
from allocator.pgcopy.delta import EncodedDelta
from finops.domain.allocation.engine import AllocationEngine, CostUpdate
from finops.domain.allocation.frames import ResultFrame, capture
from finops.domain.dag import CostGraph
from finops.errors import InputError

__all__ = ["Computed", "LiveDays", "flows_due", "flows_due_in"]

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

    def __init__(
        self, *, engines: int, frames: int, flows_every_s: float = 0.0
    ) -> None:
        self._engines: OrderedDict[date, AllocationEngine] = OrderedDict()
        # The frame whose node rows were last handed to the store, per date, and the
        # one whose flows were (None: the date has no rows; absent: unknown).
        self._frames: OrderedDict[date, ResultFrame | None] = OrderedDict()
        self._flow_frames: dict[date, ResultFrame | None] = {}
        self._flows_at: dict[date, float] = {}  # when a date's flows were last written
        self._behind: set[date] = set()  # dates whose stored flows are older than nodes
        self._usage: dict[date, tuple[CostGraph, UsageRows]] = {}
        self._keep_engines, self._keep_frames = engines, frames
        self.flows_every_s = flows_every_s
        # Changed flows from this many on come in binary COPY format (None: never).
        self.encode_flows_from: int | None = None
        self._generation = 0  # bumped by clear(): a compute across it keeps nothing
        self.pending: dict[date, Touched] = {}

    def touch(self, day: date, touched: Touched) -> None:
        """Nodes of a date changed by an input."""
        self.pending.setdefault(day, Touched()).add(touched)

    def take(self, day: date) -> Touched:
        """The changes of a date not yet computed (cleared)."""
        return self.pending.pop(day, None) or Touched()

    def flows_due_in(self, now: float) -> float | None:
        """Seconds until some date's held-back flows are due (None: none are)."""
        return flows_due_in(self.schedule(), self.flows_every_s, now)

    def flows_behind(self) -> set[date]:
        """Dates whose stored flows are older than their stored node rows."""
        return set(self._behind)

    def flows_due(self, now: float) -> set[date]:
        """Dates whose held-back flows are due (their next write is a big one)."""
        return flows_due(self.schedule(), self.flows_every_s, now)

    def schedule(self) -> dict[date, float | None]:
        """When the flows of each date in flows_behind() were last written."""
        return {day: self._flows_at.get(day) for day in self._behind}

    async def allocate(
        self,
        graph: CostGraph,
        day: date,
        inputs: DayInputs,
        touched: Touched,
        now: float,
    ) -> Computed:
        """compute() in a worker thread, so the event loop keeps answering."""
        # Values are replaced, never changed in place, so shallow copies are a snapshot.
        snapshot = DayInputs(dict(inputs.costs), dict(inputs.usage))
        return await asyncio.to_thread(self.compute, graph, day, snapshot, touched, now)

    def compute(
        self,
        graph: CostGraph,
        day: date,
        inputs: DayInputs,
        touched: Touched,
        now: float = 0.0,
    ) -> Computed:
        """Allocate a date (incrementally when its engine is kept) and diff it.

        Node rows are always in the delta; a date's flows at most every
        flows_every_s (a busy date changes tens of thousands of flows a second).
        """
        generation = self._generation
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
        known = day in self._frames and day in self._flow_frames
        old = self._frames.get(day)
        new = capture(engine, previous=old) if engine is not None else None
        last = self._flows_at.get(day)
        with_flows = not known or last is None or now - last >= self.flows_every_s
        changes = frame_changes(
            day, old, self._flow_frames.get(day), new, known=known, flows=with_flows
        )
        delta = encode_changes(changes, self.encode_flows_from)
        if generation == self._generation:
            self._keep_results(day, engine, new, settled=delta.settled, now=now)
        return Computed(delta, skipped, built if engine is not None else None)

    def _keep_results(
        self,
        day: date,
        engine: AllocationEngine | None,
        frame: ResultFrame | None,
        *,
        settled: bool,
        now: float,
    ) -> None:
        if engine is not None:
            self._keep(self._engines, day, engine, self._keep_engines)
        self._usage = {d: r for d, r in self._usage.items() if d in self._engines}
        self._frames.pop(day, None)
        self._keep(self._frames, day, frame, self._keep_frames)
        if settled:
            self._flow_frames[day] = frame
            self._flows_at[day] = now
            self._behind.discard(day)
        else:
            self._behind.add(day)
        for gone in set(self._flow_frames) - set(self._frames):
            self._flow_frames.pop(gone)
            self._flows_at.pop(gone, None)
            self._behind.discard(gone)

    def _rows(self, day: date, graph: CostGraph) -> UsageRows:
        rows = self._usage.get(day)
        if rows is None or rows[0] is not graph:
            rows = self._usage[day] = (graph, UsageRows(graph.ids, graph.index))
        return rows[1]

    def forget(self, day: date) -> None:
        """The date's last results may not be stored: write it whole next time."""
        self._frames.pop(day, None)
        self._flow_frames.pop(day, None)
        self._flows_at.pop(day, None)
        self._behind.discard(day)

    def clear(self) -> None:
        """After a rebalance: nothing kept is trusted."""
        self._generation += 1
        self._engines.clear()
        self._usage.clear()
        self._frames.clear()
        self._flow_frames.clear()
        self._flows_at.clear()
        self._behind.clear()
        self.pending.clear()

    @staticmethod
    def _keep(kept: OrderedDict[date, _V], day: date, value: _V, limit: int) -> None:
        kept[day] = value
        while len(kept) > limit:
            kept.popitem(last=False)


def flows_due(
    schedule: dict[date, float | None], every_s: float, now: float
) -> set[date]:
    """Dates of a schedule whose held-back flows are due now."""
    return {d for d, at in schedule.items() if at is None or now - at >= every_s}


def flows_due_in(
    schedule: dict[date, float | None], every_s: float, now: float
) -> float | None:
    """Seconds until the held-back flows of some date of a schedule are due."""
    if not schedule:
        return None
    last = min(now if at is None else at for at in schedule.values())
    return max(0.0, last + every_s - now)


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
    known = engine.graph.index
    totals, dimensions, skipped = inputs.cost_summary(touched.costs, known)
    if sorted(dimensions) != engine.dimensions:
        raise InputError(f"the dimensions of {day} changed")
    costs: list[CostUpdate] = [
        (node, day, dim, totals.get((node, dim), 0))
        for node in sorted(touched.costs)
        if node in known
        for dim in engine.dimensions
    ]
    if touched.usage:
        nodes = {n for n in touched.usage if n in known}
        engine.update(costs, rows.table(inputs.usage), nodes)
    else:
        engine.update(costs)
    return skipped + inputs.usage_skipped(known)
