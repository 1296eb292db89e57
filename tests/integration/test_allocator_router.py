"""The allocator's router on the real broker: it starts where the group that routed
before left off, skips what is not an event, and commits only what it routed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from allocator.routing.consumer import SourceRouter
from finops.adapters.kafka_admin import ensure_topics
from finops.contracts.codec import encode_event
from finops.contracts.events import NodeCostsReported
from finops.contracts.settings import KafkaSettings
from finops.contracts.topics import NODE_COSTS, USAGE, topic_name
from finops.domain.records import NodeCost

pytestmark = pytest.mark.integration


class _Routes:
    """Stands in for the service: records what the router hands it."""

    def __init__(self) -> None:
        self.origins: list[str] = []
        self.seen = asyncio.Event()

    async def route_batch(self, events: list[tuple[Any, str]]) -> int:
        self.origins += [origin for _, origin in events]
        self.seen.set()
        return len(events)


def _event(amount: int) -> bytes:
    cost = NodeCost(
        node="db", date=date(2025, 2, 1), dimension="compute", amount_micros=amount
    )
    return encode_event(
        NodeCostsReported(
            event_id=uuid.uuid4(),
            occurred_at=datetime.now(UTC),
            source="bill",
            costs=[cost],
        )
    )


async def _delivered() -> None:
    """Nothing is forwarded here (the service is a stand-in)."""


async def _committed(servers: str, group: str, tp: TopicPartition) -> int | None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        committed: int | None = await consumer.committed(tp)
        return committed
    finally:
        await consumer.stop()


async def test_the_router_goes_on_from_the_older_group_and_skips_non_events(
    kafka_settings: KafkaSettings,
) -> None:
    servers, ns = kafka_settings.bootstrap_servers, kafka_settings.topic_namespace
    await ensure_topics(servers, namespace=ns)
    topics = [topic_name(NODE_COSTS, ns), topic_name(USAGE, ns)]
    tp = TopicPartition(topics[0], 0)
    producer = AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    try:
        for i in range(8):
            await producer.send_and_wait(tp.topic, _event(i), partition=0)
        await producer.send_and_wait(tp.topic, b"not json", partition=0)  # offset 8
        await producer.send_and_wait(tp.topic, _event(9), partition=0)
    finally:
        await producer.stop()
    legacy = f"{ns}-faust"  # routed offsets 0-5 before the router had a group
    # No auto-commit: on stop it would commit its own position (the end, 10) over 6.
    old = AIOKafkaConsumer(
        bootstrap_servers=servers, group_id=legacy, enable_auto_commit=False
    )
    await old.start()
    old.assign([tp])
    await old.commit({tp: OffsetAndMetadata(6, "")})
    await old.stop()

    routes, ready = _Routes(), asyncio.Event()
    group = f"{ns}-router"
    router = SourceRouter(
        routes,
        AIOKafkaConsumer(
            bootstrap_servers=servers,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        ),
        bootstrap_servers=servers,
        ready=ready,
        flush=_delivered,
    )
    ready.set()
    task = asyncio.create_task(router.run(topics, legacy_group=legacy))
    try:
        async with asyncio.timeout(60):
            while len(routes.origins) < 3 or await router.lag() != dict.fromkeys(
                topics, 0
            ):
                await asyncio.sleep(0.2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert routes.origins == [f"{tp.topic}/0/{offset}" for offset in (6, 7, 9)]
    assert await _committed(servers, group, tp) == 10
