"""A JSON graph file in its plain form, read without pydantic (decision 0360).

`finops allocate` spent ~0.1 s importing pydantic and building its models, then
~0.06 s validating 25,000 objects, before the engine could start. This reader takes
the form graph files are written in (`finops synth`, `save_graph`, hand-written
files): an object with `nodes` and `edges`; nodes with `id`, `type` and optionally
`labels` (strings); edges with `from`, `to`, `strategy` and optionally `params`,
`dimensions` (each `strategy` and optionally `params`), `active_from` and
`active_to` (`YYYY-MM-DD` or null). It gives plain tuples with the fields of
`dag.GraphSpec` (`costgraph.GraphFields`), equal field for field to what pydantic
gives for the same text.

It decides nothing on its own: anything else (another key, type or date form, an
empty id or one with a control character, an edge whose ends are not node ids, a
window that ends before it starts, text that is not UTF-8 JSON) gives None, and the
file is then read by `graphfile.load_graph`, the authority, which accepts it as it
always has or names the defect. So the rules and the messages stay written once.
`tests/unit/allocation/test_plain_graph.py` checks the equality on generated graphs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Final, NamedTuple

from finops.domain.costgraph import EdgeFields, NodeType, is_active, overlap
from finops.domain.identifiers import identifier_problem

__all__ = [
    "PlainEdge",
    "PlainGraph",
    "PlainNode",
    "PlainOverride",
    "plain_graph",
    "read_plain_graph",
]

_GRAPH_KEYS: Final = frozenset({"nodes", "edges"})
_NODE_KEYS: Final = frozenset({"id", "type", "labels"})
_EDGE_KEYS: Final = frozenset(
    {"from", "to", "strategy", "params", "dimensions", "active_from", "active_to"}
)
_OVERRIDE_KEYS: Final = frozenset({"strategy", "params"})
_NODE_TYPES: Final = {t.value: t for t in NodeType}
_DAY: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class PlainNode(NamedTuple):
    """A node as `dag.NodeSpec` has it."""

    id: str
    type: NodeType
    labels: Mapping[str, str]


class PlainOverride(NamedTuple):
    """An edge's strategy for one dimension, as `dag.DimensionOverride` has it."""

    strategy: str
    params: Mapping[str, Any]


class PlainEdge(NamedTuple):
    """An edge as `dag.EdgeSpec` has it."""

    from_: str
    to: str
    strategy: str
    params: Mapping[str, Any]
    dimensions: Mapping[str, PlainOverride]
    active_from: date | None
    active_to: date | None

    def is_active(self, day: date) -> bool:
        """Whether the edge carries cost on this day."""
        return is_active(self, day)

    def overlaps(self, other: EdgeFields) -> bool:
        """Whether the two activity windows share at least one day."""
        return overlap(self, other)


class PlainGraph(NamedTuple):
    """Nodes and edges as `dag.GraphSpec` has them."""

    nodes: Sequence[PlainNode]
    edges: Sequence[EdgeFields]

    def with_edges(self, edges: Sequence[EdgeFields]) -> PlainGraph:
        """The same nodes with these edges."""
        return PlainGraph(self.nodes, list(edges))


class _NotPlain(Exception):
    """The text is not in the plain form (graphfile then reads it)."""


def read_plain_graph(path: Path) -> PlainGraph | None:
    """The graph of a `.json` file in the plain form, else None (also when the file
    cannot be read: `graphfile.load_graph` then names the problem)."""
    if path.suffix != ".json":
        return None
    try:
        return plain_graph(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError):
        return None


def plain_graph(text: str) -> PlainGraph | None:
    """The graph of JSON text in the plain form, else None."""
    try:
        raw = json.loads(text)
        return _graph(raw)
    except (_NotPlain, ValueError, TypeError, RecursionError):
        return None


def _graph(raw: object) -> PlainGraph:
    if type(raw) is not dict or not raw.keys() <= _GRAPH_KEYS:
        raise _NotPlain
    nodes, edges = raw.get("nodes", []), raw.get("edges", [])
    if type(nodes) is not list or type(edges) is not list:
        raise _NotPlain
    plain_nodes = [_node(n) for n in nodes]
    ids = {n.id for n in plain_nodes}
    if "" in ids or identifier_problem("".join(ids)) is not None:
        raise _NotPlain
    return PlainGraph(plain_nodes, [_edge(e, ids) for e in edges])


def _node(raw: object) -> PlainNode:
    if type(raw) is not dict or not raw.keys() <= _NODE_KEYS:
        raise _NotPlain
    node_id, kind, labels = raw.get("id"), raw.get("type"), raw.get("labels", {})
    if type(node_id) is not str or type(kind) is not str or not _strings(labels):
        raise _NotPlain
    node_type = _NODE_TYPES.get(kind)
    if node_type is None:
        raise _NotPlain
    return PlainNode(node_id, node_type, labels)


def _edge(raw: object, ids: set[str]) -> PlainEdge:
    if type(raw) is not dict or not raw.keys() <= _EDGE_KEYS:
        raise _NotPlain
    get = raw.get
    parent, child, strategy = get("from"), get("to"), get("strategy")
    # ids are strings: an end among them is one (an unhashable end: TypeError)
    if parent not in ids or child not in ids or type(strategy) is not str:
        raise _NotPlain
    params, dimensions = get("params", {}), get("dimensions", {})
    if type(params) is not dict or type(dimensions) is not dict:
        raise _NotPlain
    start = end = None
    if "active_from" in raw or "active_to" in raw:
        start, end = _day(get("active_from")), _day(get("active_to"))
        if start and end and end <= start:
            raise _NotPlain
    overrides = {k: _override(v) for k, v in dimensions.items()} if dimensions else {}
    return PlainEdge(parent, child, strategy, params, overrides, start, end)


def _override(raw: object) -> PlainOverride:
    if type(raw) is not dict or not raw.keys() <= _OVERRIDE_KEYS:
        raise _NotPlain
    strategy, params = raw.get("strategy"), raw.get("params", {})
    if type(strategy) is not str or type(params) is not dict:
        raise _NotPlain
    return PlainOverride(strategy, params)


def _day(raw: object) -> date | None:
    if raw is None:
        return None
    if type(raw) is not str or not _DAY.fullmatch(raw):
        raise _NotPlain
    return date.fromisoformat(raw)  # ValueError (a month 13, say): not plain


def _strings(raw: object) -> bool:
    return type(raw) is dict and all(type(v) is str for v in raw.values())
