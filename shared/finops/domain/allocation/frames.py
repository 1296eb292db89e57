"""An engine's results as flat arrays, and the cells that differ between two of them.

A stream processor keeps the frame it last stored; after an update it captures a new
frame and writes only the rows whose figures, amounts or shares changed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from finops.domain.allocation.engine import AllocationEngine
from finops.domain.allocation.plans import ParentPlan
from finops.domain.allocation.readout import strategy_codes, strategy_names
from finops.domain.costgraph import CostGraph

__all__ = [
    "Cells",
    "DayPlans",
    "FrameDiff",
    "ResultFrame",
    "capture",
    "capture_day",
    "diff_frames",
    "every_cell",
]

Cells = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]
_Scalar = TypeVar("_Scalar", bound=np.generic)


@dataclass(frozen=True)
class _ParentRows:
    """One parent's flow rows: shares and strategy codes per (row, day, dimension)."""

    plan: ParentPlan
    share: NDArray[np.float64]
    strategy: NDArray[np.int64]


@dataclass(frozen=True)
class ResultFrame:
    """Node figures (direct, indirect, holistic, allocated_out, retained) as
    (5, nodes, days, dims) and flows as (rows, days, dims), rows grouped by parent.

    Shares and strategies are gathered when first asked for: most frames are only
    compared on their node figures (flows are diffed less often).
    """

    graph: CostGraph
    dimensions: tuple[str, ...]
    first_day: int
    figures: NDArray[np.int64]
    parent: NDArray[np.int64]
    child: NDArray[np.int64]
    amount: NDArray[np.int64]
    _plans: dict[int, ParentPlan]  # parent -> plan (never changed in place)
    _previous: dict[int, _ParentRows]  # an older frame's rows, reused when the same

    @functools.cached_property
    def _rows(self) -> dict[int, _ParentRows]:
        rows = {
            p: _parent_rows(plan, self._previous.get(p))
            for p, plan in self._plans.items()
        }
        object.__setattr__(self, "_previous", {})  # no chain of older frames kept
        return rows

    @functools.cached_property
    def share(self) -> NDArray[np.float64]:
        """(rows, days, dims) share of each flow row."""
        parts = [r.share for r in self._rows.values()]
        return _stack(parts, self.amount.shape[1:], np.float64)

    @functools.cached_property
    def strategy(self) -> NDArray[np.int64]:
        """(rows, days, dims) strategy code of each flow row."""
        parts = [r.strategy for r in self._rows.values()]
        return _stack(parts, self.amount.shape[1:], np.int64)

    @property
    def plans(self) -> dict[int, ParentPlan]:
        """Each parent's plan (never changed in place: identity says it is the same)."""
        return self._plans

    def node_present(self) -> NDArray[np.bool_]:
        """Cells a result row exists for: any direct, indirect or allocated_out."""
        direct, indirect, _, out, _ = self.figures
        present: NDArray[np.bool_] = (direct != 0) | (indirect != 0) | (out != 0)
        return present

    def flow_present(self) -> NDArray[np.bool_]:
        """Flow cells that are listed: a non-zero amount or a positive share."""
        present: NDArray[np.bool_] = (self.amount != 0) | (self.share > 0)
        return present

    def comparable(self, other: ResultFrame) -> bool:
        """Same graph object, dimensions and days: cells line up one to one."""
        return (
            self.graph is other.graph
            and self.dimensions == other.dimensions
            and self.first_day == other.first_day
            and self.figures.shape == other.figures.shape
        )

    def strategy_name(self, codes: NDArray[np.int64]) -> list[str]:
        """Strategy names of strategy codes."""
        return strategy_names(codes)


@dataclass(frozen=True)
class FrameDiff:
    """Cells to write (present in the new frame and changed) and cells that vanished;
    nodes as (node, day, dim) indices, flows as (row, day, dim)."""

    nodes: Cells
    nodes_removed: Cells
    flows: Cells
    flows_removed: Cells


def capture(
    engine: AllocationEngine, previous: ResultFrame | None = None, *, flows: bool = True
) -> ResultFrame:
    """The engine's results now; per-parent pieces of `previous` whose plan is the
    same object are reused. flows False: node figures and plans only (the frame's
    flow rows are empty), taken from what the engine keeps passed on when it does
    (one-day engines), without gathering every flow."""
    state = engine.state
    parents = sorted(state.flows)
    plans = {p: state.plans[p] for p in parents}
    shape = state.direct.shape[1:]
    if not flows and state.out is not None:
        out, amount = state.out, np.zeros((0, *shape), dtype=np.int64)
        parent = child = np.zeros(0, dtype=np.int64)
    else:
        amount = _stack([state.flows[p] for p in parents], shape, np.int64)
        sizes = np.array([len(plans[p].children) for p in parents], dtype=np.int64)
        out = np.zeros_like(state.direct)
        if parents:
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
            out[parents] = np.add.reduceat(amount, starts, axis=0)
        parent = np.repeat(np.array(parents, dtype=np.int64), sizes)
        child = _stack([plans[p].children for p in parents], (), np.int64)
    return ResultFrame(
        graph=engine.graph,
        dimensions=tuple(engine.dimensions),
        first_day=engine.days.first.toordinal(),
        figures=_figures(state.direct, state.received, out),
        parent=parent,
        child=child,
        amount=amount,
        _plans=plans,
        _previous=_reusable(previous),
    )


class DayPlans:
    """One-day plans cut from a multi-day engine's plans, per day of its range: the
    same objects while the engine keeps a plan (plans are compared by identity:
    share rows skip a plan that is the one last stored). Only plans the engine
    replaced since a day was last cut are cut again."""

    def __init__(self) -> None:
        # Per day index: the engine's plans when last cut, and their one-day cuts.
        self._seen: dict[int, dict[int, ParentPlan]] = {}
        self._cut: dict[int, dict[int, ParentPlan]] = {}

    def of(self, plans: dict[int, ParentPlan], t: int) -> dict[int, ParentPlan]:
        """The one-day plans of day t (of the engine's range), by parent."""
        seen = self._seen.setdefault(t, {})
        cut = self._cut.setdefault(t, {})
        if seen.keys() != plans.keys():  # another engine or graph: cut afresh
            seen.clear()
            cut.clear()
        for p in [p for p, plan in plans.items() if seen.get(p) is not plan]:
            plan = seen[p] = plans[p]
            cut[p] = ParentPlan(
                plan.edges,
                plan.children,
                plan.dim_config,
                plan.config_rules,
                plan.shares[:, t : t + 1, :],
            )
        return dict(cut)


def capture_day(
    engine: AllocationEngine,
    t: int,
    plans: DayPlans,
    previous: ResultFrame | None = None,
) -> ResultFrame:
    """Day t of a multi-day engine as the one-day frame `capture(..., flows=False)`
    gives of a one-day engine over that day's inputs: node figures and plans, no
    flow rows. The engine must keep what each node passed on (`CostState.out`)."""
    state = engine.state
    if state.out is None:
        raise ValueError("capture_day needs an engine that keeps what nodes pass on")
    day = slice(t, t + 1)
    figures = _figures(state.direct[:, day], state.received[:, day], state.out[:, day])
    none = np.zeros(0, dtype=np.int64)
    return ResultFrame(
        graph=engine.graph,
        dimensions=tuple(engine.dimensions),
        first_day=engine.days.first.toordinal() + t,
        figures=figures,
        parent=none,
        child=none,
        amount=np.zeros((0, *figures.shape[2:]), dtype=np.int64),
        _plans=plans.of({p: state.plans[p] for p in sorted(state.flows)}, t),
        _previous=_reusable(previous),
    )


def _figures(
    direct: NDArray[np.int64], received: NDArray[np.int64], out: NDArray[np.int64]
) -> NDArray[np.int64]:
    """direct, indirect, holistic, allocated_out and retained, stacked."""
    holistic = direct + received
    return np.stack([direct, received, holistic, out, holistic - out])


def _reusable(previous: ResultFrame | None) -> dict[int, _ParentRows]:
    """Rows an older frame has gathered, or those it would have reused."""
    if previous is None:
        return {}
    if "_rows" not in previous.__dict__:
        return previous._previous
    return previous._rows


def _parent_rows(plan: ParentPlan, previous: _ParentRows | None) -> _ParentRows:
    if previous is not None and previous.plan is plan:
        return previous
    k, (_, days, _) = len(plan.children), plan.shares.shape
    share = plan.share_cells(None).reshape(k, days, -1)  # (k, days, dims), cached
    if (
        previous is not None  # usage moved the shares; strategies stay
        and previous.plan.config_rules is plan.config_rules
        and previous.plan.dim_config is plan.dim_config
        and previous.strategy.shape == share.shape
    ):
        return _ParentRows(plan, share, previous.strategy)
    codes = strategy_codes(plan)  # (configs, k)
    strategy = np.broadcast_to(
        codes[plan.dim_config].T[:, np.newaxis, :], share.shape
    )  # (k, days, dims)
    return _ParentRows(plan, share, strategy)


def _stack(
    parts: Sequence[NDArray[_Scalar]], shape: tuple[int, ...], dtype: type[_Scalar]
) -> NDArray[_Scalar]:
    if not parts:
        return np.zeros((0, *shape), dtype=dtype)
    return np.concatenate(parts).astype(dtype, copy=False)


def diff_frames(
    old: ResultFrame, new: ResultFrame, *, nodes: bool = True, flows: bool = True
) -> FrameDiff:
    """Cells of `new` to write and of `old` to delete; frames must be comparable.

    nodes / flows False: that part is left empty (not compared).
    """
    if not old.comparable(new):
        raise ValueError("frames of different graphs, dimensions or days")
    node_cells, node_gone = _NO_CELLS, _NO_CELLS
    if nodes:
        was, now = old.node_present(), new.node_present()
        changed = (old.figures != new.figures).any(axis=0)
        node_cells, node_gone = _cells(now & changed), _cells(was & ~now)
    flow_cells, flow_gone = _NO_CELLS, _NO_CELLS
    if flows:
        was, now = old.flow_present(), new.flow_present()
        changed = (
            (old.amount != new.amount)
            | (old.share != new.share)
            | (old.strategy != new.strategy)
        )
        flow_cells, flow_gone = _cells(now & changed), _cells(was & ~now)
    return FrameDiff(node_cells, node_gone, flow_cells, flow_gone)


def every_cell(frame: ResultFrame) -> FrameDiff:
    """Every present cell, to write a frame whole."""
    return FrameDiff(
        _cells(frame.node_present()),
        _NO_CELLS,
        _cells(frame.flow_present()),
        _NO_CELLS,
    )


def _cells(mask: NDArray[np.bool_]) -> Cells:
    a, b, c = np.nonzero(mask)
    return a.astype(np.int64), b.astype(np.int64), c.astype(np.int64)


_NO_CELLS: Cells = _cells(np.zeros((0, 0, 0), dtype=bool))
