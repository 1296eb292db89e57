"""The ingest outbox on the real PostgreSQL and Kafka: when the broker fails after
the delivery's commit, the delivery stands, its events wait in the outbox (written in
the same transaction), and they are sent once the broker is back — nothing lost,
nothing sent twice by a second flush."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from finops.adapters.kafka_admin import ensure_topics
from finops.contracts.events import NodeCostsReported, RowRejected, UsageReported
from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops.contracts.topics import NODE_COSTS, TopicSpec
from ingest.formats import IngestFormat
from ingest.models import Delivery
from ingest.publisher import KafkaPublisher
from ingest.service import IngestService
from ingest.store import PgIngestStore
from tests.support.ingest_helpers import read_topic

pytestmark = pytest.mark.integration
COSTS = (
    "node,date,dimension,amount\ndb,2024-11-01,compute,10\nweb,2024-11-02,compute,5\n"
)


class _BrokerAway:
    """The real publisher, failing while `away` (the broker is unreachable)."""

    def __init__(self, real: KafkaPublisher) -> None:
        self.real, self.away = real, True

    def _check(self) -> None:
        if self.away:
            raise ConnectionError("the broker is away")

    async def node_costs(self, events: Iterable[tuple[date, NodeCostsReported]]) -> int:
        self._check()
        return await self.real.node_costs(events)

    async def usage(self, events: Iterable[tuple[date, UsageReported]]) -> int:
        self._check()
        return await self.real.usage(events)

    async def dead_letters(self, spec: TopicSpec, events: Iterable[RowRejected]) -> int:
        self._check()
        return await self.real.dead_letters(spec, events)


async def test_events_held_back_by_a_broker_failure_after_commit_are_sent_later(
    kafka_settings: KafkaSettings,
    postgres_settings: PostgresSettings,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    await ensure_topics(
        kafka_settings.bootstrap_servers, namespace=kafka_settings.topic_namespace
    )
    pool = await asyncpg.create_pool(
        postgres_settings.database_url,
        server_settings={"search_path": postgres_settings.db_schema},
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers)
    await producer.start()
    try:
        publisher = _BrokerAway(
            KafkaPublisher(producer, namespace=kafka_settings.topic_namespace)
        )
        service = IngestService(PgIngestStore(pool), publisher)
        path = tmp_path / "costs.csv"
        path.write_text(COSTS)
        delivery = Delivery(
            path=path,
            file_name="costs.csv",
            fmt=IngestFormat.NODE_COSTS,
            content_hash="h1",
            source="team",
        )
        result = await service.ingest(delivery)
        assert result.status == "succeeded" and result.rows_accepted == 2
        assert "the broker is away" in service.outbox.failure
        pending = "SELECT count(*) FROM ingest_outbox WHERE published_at IS NULL"
        assert await db.fetchval(pending) == 1  # committed with the delivery

        publisher.away = False
        assert await service.outbox.flush() == 1
        assert await service.outbox.flush() == 0  # sent once
        assert await db.fetchval(pending) == 0
    finally:
        await producer.stop()
        await pool.close()
    events = await read_topic(kafka_settings, NODE_COSTS, count=2)
    sent = sorted(
        (c.node, c.date, c.amount_micros)
        for _, e in events
        if isinstance(e, NodeCostsReported)
        for c in e.costs
    )
    assert sent == [
        ("db", date(2024, 11, 1), 10_000_000),
        ("web", date(2024, 11, 2), 5_000_000),
    ]
