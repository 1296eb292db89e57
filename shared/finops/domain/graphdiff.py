"""Differences between two graph specs, and replaying those differences onto a spec."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from finops.domain.dag import EdgeRef, EdgeSpec, GraphSpec, NodeSpec

__all__ = [
    "GraphChange",
    "GraphDelta",
    "apply_change",
    "diff_graphs",
    "edge_ref",
    "graph_digest",
]

_EdgeKey = tuple[str, str, date | None]


class GraphChange(Protocol):
    """What a graph change carries (a GraphDelta, or the event that publishes one)."""

    @property
    def nodes_upserted(self) -> Sequence[NodeSpec]: ...
    @property
    def nodes_removed(self) -> Sequence[str]: ...
    @property
    def edges_upserted(self) -> Sequence[EdgeSpec]: ...
    @property
    def edges_removed(self) -> Sequence[EdgeRef]: ...


@dataclass(frozen=True)
class GraphDelta:
    """What turns one graph into another: nodes and edges upserted or removed."""

    nodes_upserted: list[NodeSpec] = field(default_factory=list)
    nodes_removed: list[str] = field(default_factory=list)
    edges_upserted: list[EdgeSpec] = field(default_factory=list)
    edges_removed: list[EdgeRef] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """True when both graphs are the same."""
        return not (
            self.nodes_upserted
            or self.nodes_removed
            or self.edges_upserted
            or self.edges_removed
        )


def graph_digest(spec: GraphSpec) -> str:
    """A hash of the graph that ignores the order of nodes and edges."""
    nodes = sorted(n.model_dump_json() for n in spec.nodes)
    edges = sorted(e.model_dump_json(by_alias=True) for e in spec.edges)
    text = json.dumps([nodes, edges], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _key(edge: EdgeSpec | EdgeRef) -> _EdgeKey:
    return (edge.from_, edge.to, edge.active_from)


def edge_ref(edge: EdgeSpec) -> EdgeRef:
    """The identity of an edge: its ends and the start of its activity."""
    return EdgeRef.model_validate(
        {"from": edge.from_, "to": edge.to, "active_from": edge.active_from}
    )


def diff_graphs(old: GraphSpec, new: GraphSpec) -> GraphDelta:
    """The changes from old to new; edges are identified by (from, to, active_from)."""
    old_nodes = {n.id: n for n in old.nodes}
    new_nodes = {n.id: n for n in new.nodes}
    old_edges = {_key(e): e for e in old.edges}
    new_edges = {_key(e): e for e in new.edges}
    return GraphDelta(
        nodes_upserted=[n for i, n in new_nodes.items() if old_nodes.get(i) != n],
        nodes_removed=sorted(set(old_nodes) - set(new_nodes)),
        edges_upserted=[e for k, e in new_edges.items() if old_edges.get(k) != e],
        edges_removed=[edge_ref(e) for k, e in old_edges.items() if k not in new_edges],
    )


def apply_change(spec: GraphSpec, change: GraphChange) -> GraphSpec:
    """The graph after a change: removals first, then upserts (edges by identity)."""
    nodes = {n.id: n for n in spec.nodes}
    for node_id in change.nodes_removed:
        nodes.pop(node_id, None)
    nodes.update((n.id, n) for n in change.nodes_upserted)
    removed = {_key(r) for r in change.edges_removed}
    edges = {_key(e): e for e in spec.edges if _key(e) not in removed}
    edges.update((_key(e), e) for e in change.edges_upserted)
    alive = [e for e in edges.values() if e.from_ in nodes and e.to in nodes]
    return GraphSpec(nodes=list(nodes.values()), edges=alive)
