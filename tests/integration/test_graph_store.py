"""The graph kept in PostgreSQL: versions, nodes (active or retired), edges and their
per-dimension overrides, as readers query them."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from finops.adapters.graph_store import active_node_ids, latest_graph, write_graph
from finops.domain.dag import GraphSpec

pytestmark = pytest.mark.integration

FIRST = GraphSpec.model_validate(
    {
        "nodes": [
            {"id": "db", "type": "shared", "labels": {"team": "data"}},
            {"id": "shop", "type": "product"},
            {"id": "blog", "type": "product"},
        ],
        "edges": [
            {
                "from": "db",
                "to": "shop",
                "strategy": "fixed_percent",
                "params": {"percent": 70},
                "dimensions": {
                    "storage": {"strategy": "fixed_percent", "params": {"percent": 90}}
                },
            },
            {
                "from": "db",
                "to": "blog",
                "strategy": "fixed_percent",
                "params": {"percent": 30},
                "active_from": "2024-09-01",
            },
        ],
    }
)
SECOND = GraphSpec.model_validate(
    {
        "nodes": [
            {"id": "db", "type": "shared"},
            {"id": "shop", "type": "product"},
        ],
        "edges": [{"from": "db", "to": "shop", "strategy": "equal"}],
    }
)


async def test_a_version_is_stored_whole_and_read_back(db: asyncpg.Connection) -> None:
    event_id = uuid.uuid4()
    assert await write_graph(db, FIRST, version=1, digest="d1", event_id=event_id)
    stored = await latest_graph(db)
    assert stored is not None
    assert (stored.version, stored.digest, stored.spec) == (1, "d1", FIRST)
    edges = await db.fetch(
        "SELECT from_node, to_node, strategy, params::text, active_from, graph_version"
        " FROM dependency_edges ORDER BY to_node"
    )
    assert [tuple(e) for e in edges] == [
        (
            "db",
            "blog",
            "fixed_percent",
            '{"percent": 30}',
            FIRST.edges[1].active_from,
            1,
        ),
        ("db", "shop", "fixed_percent", '{"percent": 70}', None, 1),
    ]
    overrides = await db.fetch(
        "SELECT e.to_node, s.dimension, s.strategy, s.params::text"
        " FROM edge_strategies s JOIN dependency_edges e USING (edge_id)"
    )
    assert [tuple(o) for o in overrides] == [
        ("shop", "storage", "fixed_percent", '{"percent": 90}')
    ]
    labels = await db.fetchval("SELECT labels::text FROM cost_nodes WHERE node_id='db'")
    assert json.loads(labels) == {"team": "data"}
    assert await db.fetchval("SELECT event_id FROM graph_versions") == event_id


async def test_a_later_version_replaces_edges_and_retires_nodes(
    db: asyncpg.Connection,
) -> None:
    await write_graph(db, FIRST, version=1, digest="d1")
    assert await write_graph(db, SECOND, version=2, digest="d2")
    assert await active_node_ids(db) == {"db", "shop"}
    retired = await db.fetchval("SELECT active FROM cost_nodes WHERE node_id='blog'")
    assert retired is False
    edges = await db.fetch("SELECT to_node, strategy FROM dependency_edges")
    assert [tuple(e) for e in edges] == [("shop", "equal")]
    assert await db.fetchval("SELECT count(*) FROM edge_strategies") == 0
    assert await db.fetchval("SELECT count(*) FROM graph_versions") == 2


async def test_a_version_stored_already_or_older_is_skipped(
    db: asyncpg.Connection,
) -> None:
    await write_graph(db, SECOND, version=2, digest="d2")
    assert not await write_graph(db, SECOND, version=2, digest="d2")
    assert not await write_graph(db, FIRST, version=1, digest="d1")
    stored = await latest_graph(db)
    assert stored is not None and stored.version == 2
    assert await active_node_ids(db) == {"db", "shop"}


async def test_before_any_version_there_is_no_graph(db: asyncpg.Connection) -> None:
    assert await latest_graph(db) is None
    assert await active_node_ids(db) == set()
