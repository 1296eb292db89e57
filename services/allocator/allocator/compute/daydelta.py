"""What changed on a charge date between two allocations, as plain rows (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from allocator.inputs.columns import cost_table, usage_table
from allocator.inputs.days import DayInputs, Touched
from finops.domain.allocation.engine import AllocationEngine, CostUpdate
from finops.domain.allocation.frames import Cells, ResultFrame, diff_frames, every_cell
from finops.domain.dag import CostGraph
from finops.domain.days import DayRange
from finops.errors import InputError

__all__ = [
    "NO_CELLS",
    "DayDelta",
    "DayResult",
    "FlowKey",
    "FlowRow",
    "FrameChanges",
    "NodeKey",
    "NodeRow",
    "build_engine",
    "cost_updates",
    "diff_days",
    "flow_rows",
    "frame_changes",
    "node_rows",
    "to_delta",
    "to_result",
]

NodeKey = tuple[str, str]  # node, dimension
FlowKey = tuple[str, str, str]  # from, to, dimension
NodeRow = tuple[int, int, int, int, int]  # direct, indirect, holistic, out, retained
FlowRow = tuple[int, str, float]  # amount, strategy, share
_NONE = np.empty(0, dtype=np.int64)
NO_CELLS: Cells = (_NONE, _NONE, _NONE)


@dataclass(frozen=True)
class DayResult:
    """Non-zero node figures and flows of one date, in micro-units."""

    day: date
    nodes: dict[NodeKey, NodeRow] = field(default_factory=dict)
    flows: dict[FlowKey, FlowRow] = field(default_factory=dict)


@dataclass(frozen=True)
class DayDelta:
    """Node rows to write and keys to delete so the stored date equals a new result
    (its flows are derived from them and the shares: allocator.compute.shares)."""

    nodes: dict[NodeKey, NodeRow]
    nodes_removed: list[NodeKey]
    complete: bool  # True: the date's stored rows are all replaced

    @property
    def is_empty(self) -> bool:
        """True when no stored node row changes."""
        return not (self.complete or self.nodes or self.nodes_removed)

    @property
    def dimensions(self) -> set[str]:
        """Dimensions with any row written or removed."""
        return {k[1] for k in self.nodes} | {k[1] for k in self.nodes_removed}


@dataclass(frozen=True)
class FrameChanges:
    """The node cells of a new one-day frame that differ from the frame last
    stored, and the keys of the rows that vanished."""

    frame: ResultFrame
    nodes: Cells
    nodes_removed: list[NodeKey]


def build_engine(
    graph: CostGraph, day: date, inputs: DayInputs
) -> tuple[AllocationEngine | None, int]:
    """A one-day engine over the date's inputs (None without costs), as `finops
    allocate` builds it; rows naming nodes the graph lacks are left out and counted."""
    costs, skipped_costs = cost_table(inputs, day, graph.index)
    if costs.micros.size == 0:
        return None, skipped_costs + inputs.usage_skipped(graph.index)
    usage, skipped_usage = usage_table(inputs, graph.index)
    engine = AllocationEngine(graph, costs, usage, days=DayRange(first=day, last=day))
    return engine, skipped_costs + skipped_usage


def cost_updates(
    engine: AllocationEngine, day: date, inputs: DayInputs, touched: Touched
) -> tuple[list[CostUpdate], int]:
    """The engine's updates for a date's changed costs (every dimension of each
    changed node: a node's cost gone is 0), and the date's rows left out.

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
    return costs, skipped + inputs.usage_skipped(known)


def to_result(day: date, frame: ResultFrame | None) -> DayResult:
    """A frame's rows keyed by node ids (to compare across graph versions)."""
    if frame is None:
        return DayResult(day)
    cells = every_cell(frame)
    return DayResult(day, node_rows(frame, cells.nodes), flow_rows(frame, cells.flows))


def frame_changes(
    day: date,
    old: ResultFrame | None,
    new: ResultFrame | None,
    *,
    known: bool = True,
) -> FrameChanges | DayDelta:
    """Node rows to write so the stored date equals `new`, when they were last
    written from `old` (None: no rows): everything when what is stored is not known;
    the changed cells when the frames compare cell by cell, else the rows compared
    by node ids.
    """
    if not known:
        return diff_days(None, _node_result(day, new))
    if old is None or new is None or not new.comparable(old):
        return diff_days(_node_result(day, old), _node_result(day, new))
    nodes = diff_frames(old, new, flows=False)
    removed = list(node_rows(old, nodes.nodes_removed))
    return FrameChanges(new, nodes.nodes, removed)


def _node_result(day: date, frame: ResultFrame | None) -> DayResult:
    """A frame's node rows keyed by node ids (its flows are not gathered)."""
    if frame is None:
        return DayResult(day)
    n, t, k = (a.astype(np.int64) for a in np.nonzero(frame.node_present()))
    return DayResult(day, node_rows(frame, (n, t, k)))


def to_delta(changes: FrameChanges | DayDelta) -> DayDelta:
    """The changes as plain rows."""
    if isinstance(changes, DayDelta):
        return changes
    return DayDelta(
        nodes=node_rows(changes.frame, changes.nodes),
        nodes_removed=changes.nodes_removed,
        complete=False,
    )


def node_rows(frame: ResultFrame, cells: Cells) -> dict[NodeKey, NodeRow]:
    """Node rows of some (node, day, dimension) cells of a one-day frame."""
    ids, dims = frame.graph.ids, frame.dimensions
    n, t, k = cells
    figures = frame.figures[:, n, t, k].tolist()  # five columns
    # Tens of thousands of rows a second: built by C loops (map, zip), not Python.
    keys = zip(
        map(ids.__getitem__, n.tolist()), map(dims.__getitem__, k.tolist()), strict=True
    )
    return dict(zip(keys, zip(*figures, strict=True), strict=True))


def flow_rows(frame: ResultFrame, cells: Cells) -> dict[FlowKey, FlowRow]:
    """Flow rows of some (flow row, day, dimension) cells of a one-day frame."""
    ids, dims = frame.graph.ids, frame.dimensions
    r, t, k = cells
    keys = zip(
        map(ids.__getitem__, frame.parent[r].tolist()),
        map(ids.__getitem__, frame.child[r].tolist()),
        map(dims.__getitem__, k.tolist()),
        strict=True,
    )
    rows = zip(
        frame.amount[r, t, k].tolist(),
        frame.strategy_name(frame.strategy[r, t, k]),
        frame.share[r, t, k].tolist(),
        strict=True,
    )
    return dict(zip(keys, rows, strict=True))


def diff_days(old: DayResult | None, new: DayResult) -> DayDelta:
    """Node rows to write: all when the stored state is unknown, else the changes."""
    if old is None:
        return DayDelta(new.nodes, [], complete=True)
    return DayDelta(
        nodes={k: v for k, v in new.nodes.items() if old.nodes.get(k) != v},
        nodes_removed=[k for k in old.nodes if k not in new.nodes],
        complete=False,
    )
