"""The cost graph as the engine reads it: node index, out-edges, topological order.

Plain Python (no pydantic). The graph is built from any spec with the fields of
`dag.GraphSpec`: the pydantic models (events, the API, YAML and unusual JSON graph
files) or the plain tuples `formats.plaingraph` reads a JSON graph file into, so
that `finops allocate` never imports pydantic for a well-formed file (decision 0360).
The protocols below are those fields; the activity window's rules are written once,
here, for both.
"""

from __future__ import annotations

import heapq
import operator
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from enum import StrEnum
from typing import Any, Protocol

from finops.errors import GraphError

__all__ = [
    "CostGraph",
    "EdgeFields",
    "GraphFields",
    "NodeFields",
    "NodeType",
    "OverrideFields",
    "build_graph",
    "is_active",
    "overlap",
]


class NodeType(StrEnum):
    """What a node stands for; only products keep cost as final."""

    RESOURCE = "resource"
    SHARED = "shared"
    PLATFORM = "platform"
    PRODUCT = "product"


class NodeFields(Protocol):
    """A node as the engine reads it (`dag.NodeSpec`, `plaingraph.PlainNode`)."""

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> NodeType: ...
    @property
    def labels(self) -> Mapping[str, str]: ...


class OverrideFields(Protocol):
    """An edge's strategy for one dimension (`dag.DimensionOverride`,
    `plaingraph.PlainOverride`)."""

    @property
    def strategy(self) -> str: ...
    @property
    def params(self) -> Mapping[str, Any]: ...


class EdgeFields(Protocol):
    """An edge as the engine reads it (`dag.EdgeSpec`, `plaingraph.PlainEdge`)."""

    @property
    def from_(self) -> str: ...
    @property
    def to(self) -> str: ...
    @property
    def strategy(self) -> str: ...
    @property
    def params(self) -> Mapping[str, Any]: ...
    @property
    def dimensions(self) -> Mapping[str, OverrideFields]: ...
    @property
    def active_from(self) -> date | None: ...
    @property
    def active_to(self) -> date | None: ...

    def is_active(self, day: date) -> bool: ...
    def overlaps(self, other: EdgeFields) -> bool: ...


class GraphFields(Protocol):
    """Nodes and edges (`dag.GraphSpec`, `plaingraph.PlainGraph`)."""

    @property
    def nodes(self) -> Sequence[NodeFields]: ...
    @property
    def edges(self) -> Sequence[EdgeFields]: ...

    def with_edges(self, edges: Sequence[EdgeFields]) -> GraphFields:
        """The same nodes with these edges (taken from this spec, plus new ones of
        its own kind)."""
        ...


def is_active(edge: EdgeFields, day: date) -> bool:
    """Whether the edge carries cost on this day: its window is [active_from,
    active_to), either end open when not given."""
    after_start = edge.active_from is None or day >= edge.active_from
    return after_start and (edge.active_to is None or day < edge.active_to)


def overlap(one: EdgeFields, other: EdgeFields) -> bool:
    """Whether the two activity windows share at least one day."""
    lo = max(one.active_from or date.min, other.active_from or date.min)
    hi = min(one.active_to or date.max, other.active_to or date.max)
    return lo < hi


class CostGraph:
    """A validated graph: node index, out-edges by child id, topological order."""

    def __init__(self, spec: GraphFields) -> None:
        self.spec = spec
        self.nodes: dict[str, NodeFields] = {n.id: n for n in spec.nodes}
        self.ids: list[str] = sorted(self.nodes)
        self.index: dict[str, int] = {node_id: i for i, node_id in enumerate(self.ids)}
        self.out_edges: dict[str, list[EdgeFields]] = _out_edges(spec.edges)
        # Each parent's distinct children, sorted (computed once for what follows).
        kids = {p: sorted({e.to for e in out}) for p, out in self.out_edges.items()}
        self.order: list[str] = _topological_order(self.ids, kids, self.out_edges)
        # Whether some parent has two edges (of different periods) to one child.
        self.parallel_edges = any(
            len(out) != len(kids[p]) for p, out in self.out_edges.items()
        )
        self.in_parents: dict[str, list[str]] = defaultdict(list)
        for parent, children in kids.items():
            for child in children:
                self.in_parents[child].append(parent)

    def children(self, node: str) -> list[str]:
        """Distinct child ids of a node, sorted."""
        return sorted({e.to for e in self.out_edges.get(node, [])})

    def parents(self, node: str) -> list[str]:
        """Distinct parent ids of a node, sorted."""
        return sorted(self.in_parents.get(node, []))


def build_graph(spec: GraphFields) -> CostGraph:
    """Validate the structure of a graph spec and index it."""
    _check_nodes(spec)
    _check_edges(spec)
    return CostGraph(spec)


def _check_nodes(spec: GraphFields) -> None:
    seen: set[str] = set()
    for node in spec.nodes:
        if node.id in seen:
            raise GraphError(f"duplicate node id {node.id!r}")
        seen.add(node.id)


def _check_edges(spec: GraphFields) -> None:
    known = {n.id for n in spec.nodes}
    if _plainly_valid(spec.edges, known):
        return
    by_pair: dict[tuple[str, str], list[EdgeFields]] = {}
    for edge in spec.edges:
        a, b = edge.from_, edge.to
        if a not in known or b not in known:
            end = a if a not in known else b
            raise GraphError(f"edge {a} -> {b}: unknown node {end!r}")
        if a == b:
            raise GraphError(f"self-loop on node {a!r}")
        earlier = by_pair.get((a, b))
        if earlier is None:
            by_pair[(a, b)] = [edge]
            continue
        for other in earlier:
            if edge.overlaps(other):
                raise GraphError(f"duplicate edge {a} -> {b} with overlapping activity")
        earlier.append(edge)


def _plainly_valid(edges: Sequence[EdgeFields], known: set[str]) -> bool:
    """Every end a known node, no self-loop, no two edges between the same pair: the
    usual graph, checked in bulk (the loop after it names the first defect)."""
    froms, tos = [e.from_ for e in edges], [e.to for e in edges]
    return (
        known.issuperset(froms)
        and known.issuperset(tos)
        and all(map(operator.ne, froms, tos))
        and len(set(zip(froms, tos, strict=True))) == len(edges)
    )


def _edge_sort_key(edge: EdgeFields) -> tuple[str, date]:
    return (edge.to, edge.active_from or date.min)


def _out_edges(edges: Sequence[EdgeFields]) -> dict[str, list[EdgeFields]]:
    out: dict[str, list[EdgeFields]] = defaultdict(list)
    for edge in edges:
        out[edge.from_].append(edge)
    return {parent: _sorted_out(group) for parent, group in out.items()}


def _sorted_out(group: list[EdgeFields]) -> list[EdgeFields]:
    """One parent's edges by child, then start (no start sorts first)."""
    if any(e.active_from is not None for e in group):
        return sorted(group, key=_edge_sort_key)
    # Every key's start is date.min: the child alone orders them (the sort is stable).
    return sorted(group, key=_edge_child)


def _edge_child(edge: EdgeFields) -> str:
    return edge.to


def _topological_order(
    ids: list[str], kids: dict[str, list[str]], out: dict[str, list[EdgeFields]]
) -> list[str]:
    """Kahn's algorithm, smallest id first among ready nodes; raises on a cycle.

    kids: each parent's distinct children; out: its edges (to name a cycle)."""
    indegree = dict.fromkeys(ids, 0)
    for children in kids.values():
        for child in children:
            indegree[child] += 1
    ready = [node for node, deg in indegree.items() if deg == 0]
    heapq.heapify(ready)
    order: list[str] = []
    none: list[str] = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for child in kids.get(node, none):
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, child)
    if len(order) < len(ids):
        cycle = _find_cycle({n for n, d in indegree.items() if d > 0}, out)
        raise GraphError("cycle in cost graph: " + " -> ".join(cycle))
    return order


def _find_cycle(remaining: set[str], out: dict[str, list[EdgeFields]]) -> list[str]:
    """One cycle among nodes left after Kahn's algorithm, as a closed path.

    Every remaining node still has a remaining parent, so walking parents must loop.
    """
    parents: dict[str, list[str]] = defaultdict(list)
    for parent, edges in out.items():
        if parent in remaining:
            for edge in edges:
                parents[edge.to].append(parent)
    node = min(remaining)
    path: list[str] = []
    position: dict[str, int] = {}
    while node not in position:
        position[node] = len(path)
        path.append(node)
        node = min(p for p in parents[node])
    cycle = [*path[position[node] :], node]
    return cycle[::-1]
