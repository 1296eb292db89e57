"""The allocator's router on the real broker: it starts where the group that routed
before left off, sends what it cannot route to the dead-letter topic with the reason,
and commits only what it routed or dead-lettered."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from allocator.routing.consumer import Reject, SourceRouter, rejecter
from finops.adapters.dead_letters import DeadLetters
from finops.adapters.kafka_admin import ensure_topics
from finops.contracts.codec import decode_event, encode_event
from finops.contracts.events import MessageRejected, NodeCostsReported, RowRejected
from finops.contracts.settings import KafkaSettings
from finops.contracts.topics import NODE_COSTS, USAGE, dead_letter_of, topic_name
from finops.domain.records import NodeCost
from tests.support.deadline import Deadline

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


def _router(
    routes: _Routes,
    servers: str,
    group: str,
    ready: asyncio.Event,
    reject: Reject,
) -> SourceRouter:
    """A router of the group, reading from the earliest, committing by hand."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    return SourceRouter(
        routes,
        consumer,
        bootstrap_servers=servers,
        ready=ready,
        flush=_delivered,
        reject=reject,
    )


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


async def _dead_letters(kafka: KafkaSettings, count: int) -> list[MessageRejected]:
    consumer = AIOKafkaConsumer(
        topic_name(dead_letter_of(NODE_COSTS), kafka.topic_namespace),
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=f"dlq-{uuid.uuid4().hex[:8]}",
    )
    await consumer.start()
    try:
        found: list[MessageRejected] = []
        wait = Deadline(60, f"{count} dead letters")
        while len(found) < count:
            wait.check(f"{len(found)} arrived")
            batch = await consumer.getmany(timeout_ms=1000)
            for m in (m for ms in batch.values() for m in ms):
                event = decode_event(m.value)
                assert isinstance(event, MessageRejected)
                found.append(event)
        return found
    finally:
        await consumer.stop()


def _other_type() -> bytes:
    """A valid event of a type the router does not route."""
    return encode_event(
        RowRejected(
            event_id=uuid.uuid4(),
            occurred_at=datetime.now(UTC),
            source="x",
            reason="r",
            raw="",
        )
    )


_Message = tuple[bytes | None, bytes | None]  # key, value


async def _sources_with(
    kafka: KafkaSettings, messages: list[_Message]
) -> tuple[list[str], TopicPartition]:
    """The source topics, created, and their first partition (node costs, 0) with
    these (key, value) messages in it, from offset 0."""
    servers, ns = kafka.bootstrap_servers, kafka.topic_namespace
    await ensure_topics(servers, namespace=ns)
    topics = [topic_name(NODE_COSTS, ns), topic_name(USAGE, ns)]
    tp = TopicPartition(topics[0], 0)
    producer = AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(tp.topic, value, key=key, partition=0)
    finally:
        await producer.stop()
    return topics, tp


async def test_the_router_goes_on_from_the_older_group_and_dead_letters_non_events(
    kafka_settings: KafkaSettings,
) -> None:
    servers, ns = kafka_settings.bootstrap_servers, kafka_settings.topic_namespace
    messages: list[_Message] = [(None, _event(i)) for i in range(8)]
    messages += [(None, b"not json"), (None, _event(9))]  # offsets 8, 9
    messages += [(b"k", None), (None, _other_type()), (None, _event(12))]  # tombstone
    topics, tp = await _sources_with(kafka_settings, messages)
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
    dlq_producer = AIOKafkaProducer(bootstrap_servers=servers)
    await dlq_producer.start()
    dead = DeadLetters(dlq_producer, consumer="allocator", namespace=ns)
    router = _router(routes, servers, group, ready, rejecter(dead, ns))
    ready.set()
    task = asyncio.create_task(router.run(topics, legacy_group=legacy))
    try:
        async with asyncio.timeout(60):
            # Routed, dead-lettered and committed (the commit asserted below).
            while (
                len(routes.origins) < 4
                or await router.lag() != dict.fromkeys(topics, 0)
                or await _committed(servers, group, tp) != 13
            ):
                await asyncio.sleep(0.2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await dlq_producer.stop()
    assert routes.origins == [f"{tp.topic}/0/{offset}" for offset in (6, 7, 9, 12)]
    assert await _committed(servers, group, tp) == 13
    letters = await _dead_letters(kafka_settings, 3)
    assert [(d.topic, d.offset, d.consumer) for d in letters] == [
        (tp.topic, offset, "allocator") for offset in (8, 10, 11)
    ]
    assert "not JSON" in letters[0].reason and letters[0].raw == "not json"
    assert "tombstone" in letters[1].reason and letters[1].raw is None
    assert "unexpected event type 'row_rejected'" in letters[2].reason


async def _no_rejects(message: Any, reason: str) -> None:
    raise AssertionError(f"{message.offset} rejected: {reason}")


class _HeldRoutes(_Routes):
    """Takes a batch, then holds it until released: fetched, not yet routed."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def route_batch(self, events: list[tuple[Any, str]]) -> int:
        self.seen.set()
        await self.release.wait()
        return await super().route_batch(events)


async def test_the_lag_counts_fetched_events_until_they_are_routed_and_committed(
    kafka_settings: KafkaSettings,
) -> None:
    """Before a partition's first commit, the lag counts from where its routing
    started, not from the consumer's position (which is past what it fetched)."""
    servers, ns = kafka_settings.bootstrap_servers, kafka_settings.topic_namespace
    topics, tp = await _sources_with(
        kafka_settings, [(None, _event(i)) for i in range(5)]
    )
    routes, ready = _HeldRoutes(), asyncio.Event()
    group = f"{ns}-router"
    router = _router(routes, servers, group, ready, _no_rejects)
    ready.set()
    task = asyncio.create_task(router.run(topics))
    try:
        async with asyncio.timeout(60):
            await routes.seen.wait()  # all five fetched, held before routing
            assert await router.lag() == {topics[0]: 5, topics[1]: 0}
            routes.release.set()
            while await _committed(servers, group, tp) != 5:
                await asyncio.sleep(0.2)
        assert await router.lag() == dict.fromkeys(topics, 0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(routes.origins) == 5
