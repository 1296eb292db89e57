"""The graph in PostgreSQL: each version of finops.graph.v1 as tables readers query.

`graph_versions` keeps every version stored with its whole spec; `cost_nodes` every node
ever seen (`active` in the latest version); `dependency_edges` and `edge_strategies`
the latest version's edges and per-dimension overrides. A version at or below the one
stored is skipped, so every allocator worker may write the graph it replays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from finops.domain.dag import EdgeSpec, GraphSpec

__all__ = ["Conn", "StoredGraph", "active_node_ids", "latest_graph", "write_graph"]

Conn = asyncpg.Connection | PoolConnectionProxy  # a connection, pooled or not

_LOCK: Final = 0x46494E4F5047  # one graph writer at a time per database
_LATEST: Final = "SELECT max(version) FROM graph_versions"
_VERSION: Final = """
INSERT INTO graph_versions (version, digest, event_id, spec)
VALUES ($1, $2, $3, $4::jsonb)"""
_NODES: Final = """
INSERT INTO cost_nodes (node_id, node_type, labels, graph_version, active)
SELECT n, t, l::jsonb, $4, true FROM unnest($1::text[], $2::text[], $3::text[]) AS
    x (n, t, l)
ON CONFLICT (node_id) DO UPDATE SET node_type = EXCLUDED.node_type,
    labels = EXCLUDED.labels, graph_version = EXCLUDED.graph_version, active = true,
    updated_at = now()"""
_RETIRE: Final = """
UPDATE cost_nodes SET active = false, updated_at = now()
WHERE active AND NOT node_id = ANY($1::text[])"""
_CLEAR_EDGES: Final = "DELETE FROM dependency_edges"
_EDGES: Final = """
INSERT INTO dependency_edges
    (from_node, to_node, strategy, params, active_from, active_to, graph_version)
SELECT f, t, s, p::jsonb, a, b, $7
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::date[])
    AS x (f, t, s, p, a, b)"""
_OVERRIDES: Final = """
INSERT INTO edge_strategies (edge_id, dimension, strategy, params)
SELECT e.edge_id, x.d, x.s, x.p::jsonb
FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::text[], $6::text[])
    AS x (f, t, a, d, s, p)
JOIN dependency_edges e ON e.from_node = x.f AND e.to_node = x.t
    AND e.active_from IS NOT DISTINCT FROM x.a"""
_STORED: Final = """
SELECT version, digest, spec::text AS spec FROM graph_versions
ORDER BY version DESC LIMIT 1"""
_ACTIVE: Final = "SELECT node_id FROM cost_nodes WHERE active ORDER BY node_id"


@dataclass(frozen=True, slots=True)
class StoredGraph:
    """The latest graph version stored."""

    version: int
    digest: str
    spec: GraphSpec


async def write_graph(
    conn: Conn,
    spec: GraphSpec,
    *,
    version: int,
    digest: str,
    event_id: UUID | None = None,
) -> bool:
    """Store the graph at `version` unless that version or a later one is stored;
    True when written. One transaction: readers see a whole version or the last."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK)
        stored = await conn.fetchval(_LATEST)
        if stored is not None and stored >= version:
            return False
        await conn.execute(_VERSION, version, digest, event_id, _spec_json(spec))
        await _write_nodes(conn, spec, version)
        await conn.execute(_CLEAR_EDGES)
        await conn.execute(_EDGES, *_edge_columns(spec.edges), version)
        await conn.execute(_OVERRIDES, *_override_columns(spec.edges))
    return True


async def latest_graph(conn: Conn) -> StoredGraph | None:
    """The latest version stored, None before the first."""
    row = await conn.fetchrow(_STORED)
    if row is None:
        return None
    return StoredGraph(
        row["version"], row["digest"], GraphSpec.model_validate_json(row["spec"])
    )


async def active_node_ids(conn: Conn) -> set[str]:
    """Ids of the nodes of the latest version."""
    return {row["node_id"] for row in await conn.fetch(_ACTIVE)}


async def _write_nodes(conn: Conn, spec: GraphSpec, version: int) -> None:
    ids = [n.id for n in spec.nodes]
    types = [str(n.type) for n in spec.nodes]
    labels = [json.dumps(n.labels) for n in spec.nodes]
    await conn.execute(_NODES, ids, types, labels, version)
    await conn.execute(_RETIRE, ids)


def _spec_json(spec: GraphSpec) -> str:
    return spec.model_dump_json(by_alias=True, exclude_defaults=True)


def _edge_columns(edges: list[EdgeSpec]) -> tuple[list[Any], ...]:
    return (
        [e.from_ for e in edges],
        [e.to for e in edges],
        [e.strategy for e in edges],
        [json.dumps(e.params) for e in edges],
        [e.active_from for e in edges],
        [e.active_to for e in edges],
    )


def _override_columns(edges: list[EdgeSpec]) -> tuple[list[Any], ...]:
    rows = [
        (e.from_, e.to, e.active_from, dim, o.strategy, json.dumps(o.params))
        for e in edges
        for dim, o in sorted(e.dimensions.items())
    ]
    return tuple(list(column) for column in zip(*rows, strict=True)) or ([],) * 6
