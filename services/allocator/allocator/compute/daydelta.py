"""One charge date allocated by the engine of `finops allocate`; what changed (pure)."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from allocator.inputs.columns import cost_table, usage_table
from allocator.inputs.days import DayInputs
from allocator.noderows import EncodedNodes, encode_node_arrays
from allocator.offsets import DayOffsets
from allocator.pgcopy import CopyRows, TextCodes, encode_flow_arrays, encode_flows
from finops.domain.allocation.engine import AllocationEngine
from finops.domain.allocation.frames import Cells, ResultFrame, diff_frames, every_cell
from finops.domain.allocation.readout import STRATEGY_NAMES
from finops.domain.dag import CostGraph
from finops.domain.periods import DayRange

__all__ = [
    "DayDelta",
    "DayResult",
    "DayWrite",
    "build_engine",
    "diff_days",
    "frame_delta",
    "to_result",
]

NodeKey = tuple[str, str]  # node, dimension
FlowKey = tuple[str, str, str]  # from, to, dimension
NodeRow = tuple[int, int, int, int, int]  # direct, indirect, holistic, out, retained
FlowRow = tuple[int, str, float]  # amount, strategy, share
ENCODE_FLOWS_FROM = 1000  # fewer changed flows (or node rows) travel as tuples


@dataclass(frozen=True)
class DayResult:
    """Non-zero node figures and flows of one date, in micro-units."""

    day: date
    nodes: dict[NodeKey, NodeRow] = field(default_factory=dict)
    flows: dict[FlowKey, FlowRow] = field(default_factory=dict)


@dataclass(frozen=True)
class DayDelta:
    """Rows to write and keys to delete so the stored date equals a new result."""

    nodes: dict[NodeKey, NodeRow] | EncodedNodes  # encoded by the compute process
    flows: dict[FlowKey, FlowRow] | CopyRows  # encoded by the compute process
    nodes_removed: list[NodeKey]
    flows_removed: list[FlowKey]
    complete: bool  # True: the date's stored rows are all replaced
    settled: bool = True  # False: flows held back, the stored flows are older

    @property
    def is_empty(self) -> bool:
        """True when nothing stored changes."""
        changes = self.nodes or self.flows or self.nodes_removed or self.flows_removed
        return not (self.complete or changes)

    @property
    def writes_flows(self) -> bool:
        """True when stored flows change (a settled delta with flow rows to write
        or remove, or one that replaces the whole date)."""
        return self.complete or bool(self.flows or self.flows_removed)

    @property
    def dimensions(self) -> list[str]:
        """Dimensions with any row written or removed."""
        nodes = self.nodes
        dims = set(
            nodes.dimensions
            if isinstance(nodes, EncodedNodes)
            else {k[1] for k in nodes}
        )
        dims |= {k[1] for k in self.nodes_removed}
        flows = self.flows
        dims |= (
            flows.dimensions if isinstance(flows, CopyRows) else {k[2] for k in flows}
        )
        dims |= {k[2] for k in self.flows_removed}
        return sorted(dims)

    def encoded(self, start: int = ENCODE_FLOWS_FROM) -> DayDelta:
        """The same delta with its flows in binary COPY format (see pgcopy) when
        there are at least `start` of them."""
        if isinstance(self.flows, CopyRows) or len(self.flows) < start:
            return self
        return dataclasses.replace(self, flows=encode_flows(self.flows))


@dataclass(frozen=True)
class DayWrite:
    """A date's changed rows on their way to the store, with the run, graph version
    and input offsets they reflect."""

    day: date
    delta: DayDelta
    run_id: uuid.UUID
    graph_version: int
    offsets: DayOffsets | None


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


def to_result(day: date, frame: ResultFrame | None) -> DayResult:
    """A frame's rows keyed by node ids (to compare across graph versions)."""
    if frame is None:
        return DayResult(day)
    cells = every_cell(frame)
    return DayResult(
        day, _node_rows(frame, cells.nodes), _flow_rows(frame, cells.flows)
    )


def frame_delta(
    day: date,
    nodes_old: ResultFrame | None,
    flows_old: ResultFrame | None,
    new: ResultFrame | None,
    *,
    known: bool = True,
    flows: bool = True,
    encode_from: int | None = None,
) -> DayDelta:
    """What to write so the stored date equals `new`: its node rows were last written
    from nodes_old and its flows from flows_old (None: no rows). Everything when what
    is stored is not known; the flows only when `flows` (else the delta is unsettled).
    Changed flows, when there are encode_from or more, come in binary COPY format.
    """
    if not known:
        return diff_days(None, to_result(day, new))
    if (
        nodes_old is None
        or flows_old is None
        or new is None
        or not (new.comparable(nodes_old) and new.comparable(flows_old))
    ):
        old = DayResult(
            day, to_result(day, nodes_old).nodes, to_result(day, flows_old).flows
        )
        return diff_days(old, to_result(day, new))
    nodes = diff_frames(nodes_old, new, flows=False)
    encoded = encode_from is not None and nodes.nodes[0].size >= encode_from
    rows = _node_copy(new, nodes.nodes) if encoded else _node_rows(new, nodes.nodes)
    removed = list(_node_rows(nodes_old, nodes.nodes_removed))
    if not flows:
        return DayDelta(rows, {}, removed, [], complete=False, settled=False)
    cells = diff_frames(flows_old, new, nodes=False)
    encode = encode_from is not None and cells.flows[0].size >= encode_from
    return DayDelta(
        nodes=rows,
        flows=_flow_copy(new, cells.flows) if encode else _flow_rows(new, cells.flows),
        nodes_removed=removed,
        flows_removed=list(_flow_rows(flows_old, cells.flows_removed)),
        complete=False,
    )


def _node_rows(frame: ResultFrame, cells: Cells) -> dict[NodeKey, NodeRow]:
    """Node rows of some (node, day, dimension) cells of a one-day frame."""
    ids, dims = frame.graph.ids, frame.dimensions
    n, t, k = cells
    figures = frame.figures[:, n, t, k].tolist()  # five columns
    # Tens of thousands of rows a second: built by C loops (map, zip), not Python.
    keys = zip(
        map(ids.__getitem__, n.tolist()), map(dims.__getitem__, k.tolist()), strict=True
    )
    return dict(zip(keys, zip(*figures, strict=True), strict=True))  # type: ignore[arg-type]


def _flow_rows(frame: ResultFrame, cells: Cells) -> dict[FlowKey, FlowRow]:
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


_STRATEGY_TEXTS = TextCodes(STRATEGY_NAMES)
_NODE_TEXTS: dict[int, tuple[CostGraph, TextCodes]] = {}  # the latest graphs'


def _node_copy(frame: ResultFrame, cells: Cells) -> EncodedNodes:
    """_node_rows encoded for COPY and the announcements (a busy date's)."""
    n, t, k = cells
    texts = (_node_texts(frame.graph), TextCodes(frame.dimensions))
    names = (frame.graph.ids, frame.dimensions)
    return encode_node_arrays(n, k, frame.figures[:, n, t, k], texts, names)


def _flow_copy(frame: ResultFrame, cells: Cells) -> CopyRows | dict[FlowKey, FlowRow]:
    """_flow_rows in binary COPY format, laid out by numpy (a busy date's flows)."""
    r, t, k = cells
    parent, child = frame.parent[r], frame.child[r]
    n_nodes, n_dims = len(frame.graph.ids), len(frame.dimensions)
    if frame.graph.parallel_edges:  # two rows of one key: the last one wins
        keys = (parent * n_nodes + child) * n_dims + k
        if np.unique(keys).size != keys.size:
            return _flow_rows(frame, cells)
    texts = (_node_texts(frame.graph), TextCodes(frame.dimensions), _STRATEGY_TEXTS)
    return encode_flow_arrays(
        (parent, child, k, frame.strategy[r, t, k]),
        frame.amount[r, t, k],
        frame.share[r, t, k],
        texts,
        frame.dimensions,
    )


def _node_texts(graph: CostGraph) -> TextCodes:
    kept = _NODE_TEXTS.get(id(graph))
    if kept is None or kept[0] is not graph:
        if len(_NODE_TEXTS) >= 2:
            _NODE_TEXTS.clear()
        kept = _NODE_TEXTS[id(graph)] = (graph, TextCodes(graph.ids))
    return kept[1]


def diff_days(old: DayResult | None, new: DayResult) -> DayDelta:
    """What to write: everything when the stored state is unknown, else the changes."""
    if old is None:
        return DayDelta(new.nodes, new.flows, [], [], complete=True)
    return DayDelta(
        nodes={k: v for k, v in new.nodes.items() if old.nodes.get(k) != v},
        flows={k: v for k, v in new.flows.items() if old.flows.get(k) != v},
        nodes_removed=[k for k in old.nodes if k not in new.nodes],
        flows_removed=[k for k in old.flows if k not in new.flows],
        complete=False,
    )
