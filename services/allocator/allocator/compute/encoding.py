"""A date's node changes encoded for the store where they are computed: rows of
busy dates laid out by numpy straight from the frame's arrays (see allocator.pgcopy)."""

from __future__ import annotations

import dataclasses

from allocator.compute.daydelta import (
    NO_CELLS,
    DayDelta,
    FrameChanges,
    to_delta,
)
from allocator.compute.shares import NO_SHARES, ShareRows
from allocator.pgcopy.delta import EncodedDelta
from allocator.pgcopy.format import TextCodes
from allocator.pgcopy.nodes import EncodedNodes, encode_node_arrays
from finops.domain.allocation.frames import Cells, ResultFrame
from finops.domain.dag import CostGraph

__all__ = ["ENCODE_NODES_FROM", "encode_changes"]

ENCODE_NODES_FROM = 1000  # fewer changed node rows travel as tuples
_NODE_TEXTS: dict[int, tuple[CostGraph, TextCodes]] = {}  # the latest graphs'


def encode_changes(
    changes: FrameChanges | DayDelta,
    start: int | None,
    shares: ShareRows = NO_SHARES,
) -> EncodedDelta:
    """The changes as a delta with these shares; from the frame's cells, node rows
    come encoded when there are `start` or more of them (None: never)."""
    if start is None or isinstance(changes, DayDelta):
        return EncodedDelta(to_delta(changes), shares=shares)
    node_copy = None
    if changes.nodes[0].size >= start:
        node_copy = _node_copy(changes.frame, changes.nodes)
        changes = dataclasses.replace(changes, nodes=NO_CELLS)
    return EncodedDelta(to_delta(changes), node_copy, shares)


def _node_copy(frame: ResultFrame, cells: Cells) -> EncodedNodes:
    """daydelta.node_rows encoded for COPY and the announcements."""
    n, t, k = cells
    texts = (_node_texts(frame.graph), TextCodes(frame.dimensions))
    names = (frame.graph.ids, frame.dimensions)
    return encode_node_arrays(n, k, frame.figures[:, n, t, k], texts, names)


def _node_texts(graph: CostGraph) -> TextCodes:
    kept = _NODE_TEXTS.get(id(graph))
    if kept is None or kept[0] is not graph:
        if len(_NODE_TEXTS) >= 2:
            _NODE_TEXTS.clear()
        kept = _NODE_TEXTS[id(graph)] = (graph, TextCodes(graph.ids))
    return kept[1]
