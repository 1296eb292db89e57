"""A date's changes encoded for the store where they are computed: rows of busy
dates laid out by numpy straight from the frame's arrays (see allocator.pgcopy)."""

from __future__ import annotations

import dataclasses

import numpy as np

from allocator.compute.daydelta import (
    NO_CELLS,
    DayDelta,
    FrameChanges,
    to_delta,
)
from allocator.pgcopy.delta import EncodedDelta
from allocator.pgcopy.flows import encode_flow_arrays, encode_flows
from allocator.pgcopy.format import CopyRows, TextCodes
from allocator.pgcopy.nodes import EncodedNodes, encode_node_arrays
from finops.domain.allocation.frames import Cells, ResultFrame
from finops.domain.allocation.readout import STRATEGY_NAMES
from finops.domain.dag import CostGraph

__all__ = ["ENCODE_FLOWS_FROM", "encode_changes", "encode_flows_from"]

ENCODE_FLOWS_FROM = 1000  # fewer changed flows (or node rows) travel as tuples
_STRATEGY_TEXTS = TextCodes(STRATEGY_NAMES)
_NODE_TEXTS: dict[int, tuple[CostGraph, TextCodes]] = {}  # the latest graphs'


def encode_changes(changes: FrameChanges | DayDelta, start: int | None) -> EncodedDelta:
    """The changes as a delta; from the frame's cells, node rows and flows come
    encoded when there are `start` or more of them (None: never)."""
    if start is None or isinstance(changes, DayDelta):
        return EncodedDelta(to_delta(changes))
    frame, node_copy, flow_copy = changes.frame, None, None
    if changes.nodes[0].size >= start:
        node_copy = _node_copy(frame, changes.nodes)
        changes = dataclasses.replace(changes, nodes=NO_CELLS)
    if changes.flows is not None and changes.flows[0].size >= start:
        flow_copy = _flow_copy(frame, changes.flows)
        if flow_copy is not None:
            changes = dataclasses.replace(changes, flows=NO_CELLS)
    return EncodedDelta(to_delta(changes), node_copy, flow_copy)


def encode_flows_from(delta: EncodedDelta, start: int) -> EncodedDelta:
    """The same delta with its plain flows in binary COPY format when there are at
    least `start` of them."""
    flows = delta.plain.flows
    if delta.flow_copy is not None or len(flows) < start:
        return delta
    plain = dataclasses.replace(delta.plain, flows={})
    return dataclasses.replace(delta, plain=plain, flow_copy=encode_flows(flows))


def _node_copy(frame: ResultFrame, cells: Cells) -> EncodedNodes:
    """daydelta.node_rows encoded for COPY and the announcements."""
    n, t, k = cells
    texts = (_node_texts(frame.graph), TextCodes(frame.dimensions))
    names = (frame.graph.ids, frame.dimensions)
    return encode_node_arrays(n, k, frame.figures[:, n, t, k], texts, names)


def _flow_copy(frame: ResultFrame, cells: Cells) -> CopyRows | None:
    """daydelta.flow_rows in binary COPY format, laid out by numpy (None: two rows
    of one key, where the last one wins: left as plain rows)."""
    r, t, k = cells
    parent, child = frame.parent[r], frame.child[r]
    n_nodes, n_dims = len(frame.graph.ids), len(frame.dimensions)
    if frame.graph.parallel_edges:
        keys = (parent * n_nodes + child) * n_dims + k
        if np.unique(keys).size != keys.size:
            return None
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
