"""Restatement, duplicate delivery and refused files (real broker and database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from finops.contracts.events import NodeCostsReported
from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops.contracts.topics import NODE_COSTS, topic_name
from tests.support.ingest_helpers import ingest_client, ingest_settings, read_topic

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "focus"
FIRST = """node,date,dimension,amount
db,2024-09-01,compute,10.000001
db,2024-09-02,compute,20
web,2024-09-02,compute,-1.5
"""
CORRECTED = """node,date,dimension,amount
db,2024-09-01,compute,11
web,2024-09-02,compute,-2.25
"""


@pytest.fixture
async def client(
    kafka_settings: KafkaSettings, postgres_settings: PostgresSettings, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ingest_settings(
        kafka_settings, postgres_settings, tmp_path, consume_cost_lines=False
    )
    async with ingest_client(settings) as http:
        yield http


async def _post(
    client: httpx.AsyncClient, body: bytes, name: str, **params: str
) -> httpx.Response:
    return await client.post(
        "/ingests", params={"filename": name, **params}, content=body
    )


async def _costs(db: asyncpg.Connection) -> dict[tuple[str, date], Decimal]:
    rows = await db.fetch(
        "SELECT node_id, charge_date, amount FROM node_costs_by_dimension"
    )
    return {(r["node_id"], r["charge_date"]): r["amount"] for r in rows}


async def _end_offsets(kafka: KafkaSettings) -> int:
    """Messages ever written to the node-costs topic (all partitions)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers)
    await consumer.start()
    try:
        topic = topic_name(NODE_COSTS, kafka.topic_namespace)
        partitions = [TopicPartition(topic, i) for i in range(NODE_COSTS.partitions)]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def test_restatement_replaces_what_the_source_said_for_the_period(
    client: httpx.AsyncClient, kafka_settings: KafkaSettings, db: asyncpg.Connection
) -> None:
    first = await _post(
        client, FIRST.encode(), "costs.csv", format="node-costs", source="team-a"
    )
    assert first.status_code == 201, first.text
    again = await _post(
        client, CORRECTED.encode(), "costs-v2.csv", format="node-costs", source="team-a"
    )
    assert (
        again.status_code == 201
        and again.json()["ingest_id"] != first.json()["ingest_id"]
    )
    assert await _costs(db) == {
        ("db", date(2024, 9, 1)): Decimal("11.000000"),
        ("web", date(2024, 9, 2)): Decimal("-2.250000"),
    }
    assert await db.fetchval("SELECT count(*) FROM cost_lines") == 2
    events = await read_topic(kafka_settings, NODE_COSTS, count=4)
    last = {}
    for key, event in events:
        assert isinstance(event, NodeCostsReported) and event.replaces is not None
        assert key == event.replaces.first.isoformat().encode()
        last[event.replaces.first] = sorted(
            (c.node, c.amount_micros) for c in event.costs
        )
    assert last == {
        date(2024, 9, 1): [("db", 11_000_000)],
        date(2024, 9, 2): [("web", -2_250_000)],
    }


async def test_the_same_file_twice_changes_nothing_and_republishes_nothing(
    client: httpx.AsyncClient, kafka_settings: KafkaSettings, db: asyncpg.Connection
) -> None:
    first = await _post(
        client, FIRST.encode(), "costs.csv", format="node-costs", source="team-a"
    )
    before, offsets = await _costs(db), await _end_offsets(kafka_settings)
    second = await _post(
        client, FIRST.encode(), "renamed.csv", format="node-costs", source="team-a"
    )
    assert second.status_code == 200
    assert second.json()["duplicate"] is True
    assert second.json()["ingest_id"] == first.json()["ingest_id"]
    assert await _costs(db) == before
    assert await _end_offsets(kafka_settings) == offsets
    assert await db.fetchval("SELECT count(*) FROM ingest_runs") == 1


async def test_focus_redelivery_replaces_lines_of_that_source_only(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    body = (DATA / "focus_1_1.csv").read_bytes()
    await _post(client, body, "a.csv", format="focus", source="acme")
    await _post(client, body, "b.csv", format="focus", source="other")
    lines = await db.fetchval("SELECT count(*) FROM cost_lines")
    header, *rows = body.decode().splitlines(keepends=True)
    shorter = (header + "".join(rows[:-1])).encode()
    await _post(client, shorter, "a-v2.csv", format="focus", source="acme")
    assert await db.fetchval(
        "SELECT count(*) FROM cost_lines WHERE source = 'acme'"
    ) == (lines // 2 - 1)
    assert await db.fetchval(
        "SELECT count(*) FROM cost_lines WHERE source = 'other'"
    ) == (lines // 2)


async def test_a_refused_file_changes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await _post(
        client, FIRST.encode(), "costs.csv", format="node-costs", source="team-a"
    )
    before = await _costs(db)
    refused = await _post(
        client,
        (DATA / "unknown_layout.csv").read_bytes(),
        "unknown_layout.csv",
        format="focus",
        source="team-a",
    )
    assert refused.status_code == 422
    assert (
        "missing" in refused.json()["error"] and refused.json()["status"] == "refused"
    )
    assert await _costs(db) == before
    assert await db.fetchval("SELECT count(*) FROM cost_lines") == 3
    stored = await client.get(f"/ingests/{refused.json()['ingest_id']}")
    assert stored.json()["status"] == "refused"
