"""Nodes, edges and the flows between nodes over a window."""

from __future__ import annotations

import json
from typing import Any, Final

from api.params import Window
from api.queries.base import IN_WINDOW, MICROS, Reader, parents_flows, window_args

__all__ = [
    "edges_of",
    "flows_between",
    "flows_into",
    "flows_out_of",
    "list_nodes",
    "node",
    "node_types",
]

# $1: type or NULL, $2: labels the node must have (JSON object), $3: label keys it
# must have, $4: also nodes no longer in the graph.
_FILTER: Final = """
FROM cost_nodes
WHERE ($1::text IS NULL OR node_type = $1) AND labels @> $2::jsonb
  AND labels ?& $3::text[] AND ($4 OR active)"""
_LIST: Final = f"""
SELECT node_id, node_type, labels::text AS labels, active {_FILTER}
ORDER BY node_id LIMIT $5 OFFSET $6"""
_COUNT: Final = f"SELECT count(*) {_FILTER}"
_NODE: Final = """
SELECT node_id, node_type, labels::text AS labels, active, graph_version
FROM cost_nodes WHERE node_id = $1"""
_TYPES: Final = """
SELECT node_id, node_type, labels::text AS labels FROM cost_nodes
WHERE node_id = ANY($1::text[])"""
_EDGES: Final = """
SELECT e.from_node, e.to_node, e.strategy, e.params::text AS params,
       e.active_from, e.active_to,
       coalesce((SELECT jsonb_object_agg(s.dimension, jsonb_build_object(
           'strategy', s.strategy, 'params', s.params))
        FROM edge_strategies s WHERE s.edge_id = e.edge_id), '{}'::jsonb)::text
           AS dimensions
FROM dependency_edges e
WHERE e.from_node = $1 OR e.to_node = $1
ORDER BY e.from_node, e.to_node, e.active_from NULLS FIRST"""
_FLOW_SUMS: Final = f"""
SELECT f.from_node, f.to_node, (sum(f.amount){MICROS} AS amount,
       array_agg(DISTINCT f.strategy ORDER BY f.strategy) AS strategies,
       min(f.share) AS share_min, max(f.share) AS share_max
FROM """
_PARENTS: Final = parents_flows("$4::text[]", IN_WINDOW.replace("r.", "s."))
_INTO: Final = f"""{_FLOW_SUMS}{_PARENTS}
WHERE f.to_node = ANY($4::text[]) AND {IN_WINDOW.replace("r.", "f.")}
GROUP BY f.from_node, f.to_node ORDER BY f.to_node, amount DESC, f.from_node"""
_OUT_OF: Final = f"""{_FLOW_SUMS}allocation_contributions f
WHERE f.from_node = ANY($4::text[]) AND {IN_WINDOW.replace("r.", "f.")}
GROUP BY f.from_node, f.to_node ORDER BY f.from_node, amount DESC, f.to_node"""


async def list_nodes(
    db: Reader,
    *,
    node_type: str | None,
    labels: dict[str, str],
    keys: list[str],
    retired: bool,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """A page of nodes by id, and how many match."""
    args = (node_type, json.dumps(labels), keys, retired)
    rows = await db.fetch(_LIST, *args, limit, offset)
    total = await db.fetchval(_COUNT, *args)
    return [dict(r) for r in rows], int(total)


async def node(db: Reader, node_id: str) -> dict[str, Any] | None:
    """One node, None if it was never in the graph."""
    row = await db.fetchrow(_NODE, node_id)
    return dict(row) if row is not None else None


async def node_types(db: Reader, nodes: list[str]) -> dict[str, dict[str, Any]]:
    """Type and labels of each known node."""
    rows = await db.fetch(_TYPES, nodes)
    return {r["node_id"]: dict(r) for r in rows}


async def edges_of(db: Reader, node_id: str) -> list[dict[str, Any]]:
    """The latest graph's edges into and out of a node."""
    return [dict(r) for r in await db.fetch(_EDGES, node_id)]


async def flows_into(
    db: Reader, window: Window, nodes: list[str]
) -> list[dict[str, Any]]:
    """What reached these nodes over the window, per (parent, child)."""
    return [dict(r) for r in await db.fetch(_INTO, *window_args(window), nodes)]


async def flows_out_of(
    db: Reader, window: Window, nodes: list[str]
) -> list[dict[str, Any]]:
    """What these nodes passed on over the window, per (parent, child)."""
    return [dict(r) for r in await db.fetch(_OUT_OF, *window_args(window), nodes)]


async def flows_between(
    db: Reader, window: Window, node_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(into, out of) one node."""
    return await flows_into(db, window, [node_id]), await flows_out_of(
        db, window, [node_id]
    )
