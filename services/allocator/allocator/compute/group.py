"""Consecutive busy dates allocated by one engine (decision 0320).

A busy date's recompute costs about the same whatever changed it: plan rebuilds and
the propagation are per-parent Python work over arrays one day wide. An engine over
a run of consecutive dates does that work once for all of them (arrays a few days
wide), so a pass over the three dates a stream keeps busy costs little more than
one of them.

Each date is still computed from its own inputs alone: its costs are its day of the
engine, and its shares are read from a one-day usage view of its own usage copy
(`StackedUsage`), so every day of the group equals a one-day engine over that
date's inputs, to the bit. A date's frame is cut from the group's engine
(`capture_day`) and diffed with the frame last stored as before.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise

from allocator.compute.daydelta import cost_updates
from allocator.inputs.columns import UsageRows, summed_cost_table
from allocator.inputs.days import DayInputs, Touched
from finops.domain.allocation.engine import AllocationEngine, CostUpdate, one_day_usage
from finops.domain.allocation.frames import DayPlans, ResultFrame, capture_day
from finops.domain.allocation.usage import StackedUsage, UsageView
from finops.domain.dag import CostGraph
from finops.domain.days import DayRange

__all__ = ["MAX_GROUP_DAYS", "DayGroup", "Item", "build_group", "group_run"]

MAX_GROUP_DAYS = 7  # dates of one group (a week of busy dates, at most)
# A group's engine must keep what each node passes on (CostState.out), so that a
# date's frame is cut from it without gathering flows: days x dimensions <= 64.
_MAX_CELLS = 64

Item = tuple[date, DayInputs, Touched]  # a date to compute, its inputs and changes
Rows = Callable[[date], UsageRows]  # the date's usage columns (re-parsed lazily)


@dataclass
class DayGroup:
    """An engine over consecutive dates, with each date's usage view."""

    graph: CostGraph
    first: date
    engine: AllocationEngine
    views: list[UsageView]
    plans: DayPlans = field(default_factory=DayPlans)

    def covers(self, day: date) -> bool:
        """Whether the date is one of the group's."""
        return 0 <= (day - self.first).days < len(self.views)

    def frame(self, day: date, previous: ResultFrame | None) -> ResultFrame:
        """The date's one-day frame, as a one-day engine of its inputs gives it."""
        return capture_day(self.engine, (day - self.first).days, self.plans, previous)

    def update(self, items: Sequence[Item], rows: Rows) -> dict[date, int]:
        """Apply the dates' changes (each a date of the group with costs); returns
        the rows left out per date. InputError when a date's dimensions are no
        longer the group's (the caller then allocates the dates one by one)."""
        known = self.graph.index
        costs: list[CostUpdate] = []
        skipped: dict[date, int] = {}
        usage_nodes: set[str] = set()
        metrics: set[str] | None = set()
        usage_changed = False
        for day, inputs, touched in items:
            changes, skipped[day] = cost_updates(self.engine, day, inputs, touched)
            costs += changes
            if touched.usage:
                usage_changed = True
                t = (day - self.first).days
                self.views[t] = _view(self.graph, rows, day, inputs)
                usage_nodes |= {n for n in touched.usage if n in known}
                changed = touched.usage_metrics
                metrics = (
                    None if metrics is None or changed is None else metrics | changed
                )
        if usage_changed:
            usage = StackedUsage(self.views)
            self.engine.update(costs, usage, usage_nodes, metrics)
        else:
            self.engine.update(costs)
        return skipped


def group_run(
    day: date, candidates: Collection[date], limit: int = MAX_GROUP_DAYS
) -> list[date]:
    """The consecutive dates among `candidates` (and `day`) around `day`, at most
    `limit` of them, in order."""
    run = [day]
    while len(run) < limit and run[-1] + timedelta(days=1) in candidates:
        run.append(run[-1] + timedelta(days=1))
    while len(run) < limit and run[0] - timedelta(days=1) in candidates:
        run.insert(0, run[0] - timedelta(days=1))
    return run


def build_group(
    graph: CostGraph, items: Sequence[Item], rows: Rows
) -> tuple[DayGroup, dict[date, int]] | None:
    """An engine over the items' dates (consecutive, in order, each with costs of
    the same dimensions) and the rows left out per date, or None when they are not
    such a run."""
    known = graph.index
    days = [day for day, _, _ in items]
    if len(days) < 2 or any((b - a).days != 1 for a, b in pairwise(days)):
        return None
    totals = [inputs.cost_totals(known) for _, inputs, _ in items]
    summaries = [summary for summary, _ in totals]
    dimension_sets = [sorted({k for _, k in totals}) for totals in summaries]
    dims = dimension_sets[0]
    if not dims or any(d != dims for d in dimension_sets):
        return None
    if len(days) * len(dims) > _MAX_CELLS:
        return None
    costs = summed_cost_table(days, summaries, dims)
    views = [_view(graph, rows, day, inputs) for day, inputs, _ in items]
    engine = AllocationEngine(
        graph,
        costs,
        StackedUsage(views),
        days=DayRange(first=days[0], last=days[-1]),
        dimensions=dims,
    )
    skipped = {
        day: left_out + inputs.usage_skipped(known)
        for (day, inputs, _), (_, left_out) in zip(items, totals, strict=True)
    }
    return DayGroup(graph, days[0], engine, views), skipped


def _view(graph: CostGraph, rows: Rows, day: date, inputs: DayInputs) -> UsageView:
    """A date's one-day usage view, read from its own usage copy."""
    return one_day_usage(graph, rows(day).table(inputs.usage), day)
