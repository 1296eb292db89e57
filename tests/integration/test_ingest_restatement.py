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


V10 = "node,date,dimension,amount\ndb,2024-10-01,compute,10\n"
V20 = "node,date,dimension,amount\ndb,2024-10-01,compute,20\n"


async def test_sending_an_earlier_version_again_restates_to_it(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    params = {"format": "node-costs", "source": "team-a"}
    first = await _post(client, V10.encode(), "costs.csv", **params)
    second = await _post(client, V20.encode(), "costs.csv", **params)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["restated"] == ["team-a 2024-10-01"]
    back = await _post(client, V10.encode(), "costs.csv", **params)
    assert back.status_code == 201, back.text  # was 200, duplicate, 20 kept
    assert not back.json()["duplicate"]
    assert await _costs(db) == {("db", date(2024, 10, 1)): Decimal("10.000000")}
    same = await _post(client, V10.encode(), "costs.csv", **params)
    assert same.status_code == 200 and same.json()["duplicate"]  # still the latest
    assert same.json()["ingest_id"] == back.json()["ingest_id"]
    twenty = await _post(client, V20.encode(), "costs.csv", **params)
    assert twenty.status_code == 201
    assert await _costs(db) == {("db", date(2024, 10, 1)): Decimal("20.000000")}


async def test_the_same_file_name_in_two_folders_are_two_sources(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    team_a = "node,date,dimension,amount\na,2024-10-01,compute,1\n"
    team_b = "node,date,dimension,amount\nb,2024-10-01,compute,2\n"
    first = await _post(
        client, team_a.encode(), "teamA/costs2.csv", format="node-costs"
    )
    second = await _post(
        client, team_b.encode(), "teamB/costs2.csv", format="node-costs"
    )
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert first.json()["source"] == "teamA/costs2.csv"
    assert second.json()["source"] == "teamB/costs2.csv"
    assert second.json()["file_name"] == "costs2.csv"
    assert second.json()["restated"] == []
    assert await _costs(db) == {
        ("a", date(2024, 10, 1)): Decimal("1.000000"),
        ("b", date(2024, 10, 1)): Decimal("2.000000"),
    }
    # A source stated again by another file says so: never a silent replacement.
    third = await _post(
        client,
        team_b.encode(),
        "other.csv",
        format="node-costs",
        source="teamA/costs2.csv",
    )
    assert third.json()["restated"] == ["teamA/costs2.csv 2024-10-01"]
