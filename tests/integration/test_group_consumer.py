"""A consumer on the real broker: bad messages go to the dead-letter topic with their
reason and the rest goes on; a failing handler is retried, never skipped."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from finops.adapters.dead_letters import DeadLetters
from finops.adapters.group_consumer import GroupConsumer, Handler
from finops.adapters.kafka_admin import ensure_topics
from finops.contracts.codec import decode_event, encode_event
from finops.contracts.events import (
    Event,
    MessageRejected,
    NodeCostsReported,
    UsageReported,
)
from finops.contracts.settings import KafkaSettings
from finops.contracts.topics import NODE_COSTS, dead_letter_of, topic_name
from finops.domain.records import NodeCost, UsageRecord
from finops.errors import InputError
from tests.support.deadline import Deadline

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 3, tzinfo=UTC)


def _costs(amount: int) -> NodeCostsReported:
    cost = NodeCost(
        node="db", date=date(2026, 12, 1), dimension="c", amount_micros=amount
    )
    return NodeCostsReported(
        event_id=uuid.uuid4(), occurred_at=NOW, source="t", costs=[cost]
    )


def _usage() -> UsageReported:
    row = UsageRecord(node="db", date=date(2026, 12, 1), metric="cpu", value=1.0)
    return UsageReported(
        event_id=uuid.uuid4(), occurred_at=NOW, source="t", usage=[row]
    )


async def _produce(kafka: KafkaSettings, values: list[bytes | None]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        topic = topic_name(NODE_COSTS, kafka.topic_namespace)
        for value in values:
            await producer.send_and_wait(topic, value, key=b"2026-12-01", partition=0)
    finally:
        await producer.stop()


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
            for messages in batch.values():
                for m in messages:
                    event = decode_event(m.value)
                    assert isinstance(event, MessageRejected)
                    found.append(event)
        return found
    finally:
        await consumer.stop()


async def _consumer(
    kafka: KafkaSettings,
    handler: Handler,
    producer: AIOKafkaProducer,
    *,
    stall_s: float = 30,
) -> GroupConsumer:
    counted: list[str] = []
    dead = DeadLetters(
        producer,
        consumer="test",
        namespace=kafka.topic_namespace,
        counted=counted.append,
    )
    return GroupConsumer(
        [NODE_COSTS],
        handler,
        dead,
        kafka=kafka,
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        accepts=(NodeCostsReported,),
        retry_s=0.1,
        stall_s=stall_s,
    )


async def test_bad_messages_are_dead_lettered_and_the_rest_handled_in_order(
    kafka_settings: KafkaSettings,
) -> None:
    ns = kafka_settings.topic_namespace
    servers = kafka_settings.bootstrap_servers
    await ensure_topics(servers, namespace=ns)
    good = [_costs(1), _costs(2), _costs(3)]
    await _produce(
        kafka_settings,
        [
            encode_event(good[0]),
            b"not json",
            None,
            encode_event(_usage()),
            encode_event(good[1]),
            encode_event(_costs(-99)),
            encode_event(good[2]),
        ],
    )
    handled: list[Event] = []

    async def handle(event: Event, message: ConsumerRecord[bytes, bytes]) -> None:
        assert isinstance(event, NodeCostsReported)
        if event.costs[0].amount_micros < 0:
            raise InputError("negative cost", field="amount")
        handled.append(event)

    producer = AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    consumer = await _consumer(kafka_settings, handle, producer)
    await consumer.start()
    try:
        wait = Deadline(60, "three good events handled")
        while len(handled) < 3:
            wait.check(f"{len(handled)} handled")
            await asyncio.sleep(0.1)
        assert consumer.health().ok
    finally:
        await consumer.stop()
        await producer.stop()
    assert handled == good
    letters = await _dead_letters(kafka_settings, 4)
    assert [(d.offset, d.reason) for d in letters][:3] == [
        (1, letters[0].reason),
        (2, "empty message (a tombstone): no event"),
        (3, "unexpected event type 'usage_reported' (expected node_costs_reported)"),
    ]
    assert "not JSON" in letters[0].reason or "json" in letters[0].reason.lower()
    assert letters[0].raw == "not json"
    assert (letters[3].offset, letters[3].reason) == (
        5,
        "field 'amount': negative cost",
    )
    assert {d.consumer for d in letters} == {"test"}
    assert consumer.dead_lettered == 4 and consumer.handled == 3


async def test_a_failing_handler_is_retried_and_reported_until_it_succeeds(
    kafka_settings: KafkaSettings,
) -> None:
    ns = kafka_settings.topic_namespace
    servers = kafka_settings.bootstrap_servers
    await ensure_topics(servers, namespace=ns)
    await _produce(kafka_settings, [encode_event(_costs(1)), encode_event(_costs(2))])
    calls: list[int] = []
    database_up = asyncio.Event()

    async def handle(event: Event, message: ConsumerRecord[bytes, bytes]) -> None:
        calls.append(message.offset)
        if not database_up.is_set():
            raise ConnectionError("database is down")

    producer = AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    consumer = await _consumer(kafka_settings, handle, producer, stall_s=0.5)
    await consumer.start()
    try:
        wait = Deadline(60, "retries of the first message")
        while calls.count(0) < 3:
            wait.check(f"calls {calls}")
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.6)
        health = consumer.health()
        assert not health.ok and "database is down" in health.reason
        assert 1 not in calls  # the second message waits for the first
        database_up.set()
        wait = Deadline(60, "both messages handled")
        while consumer.handled < 2:
            wait.check(f"calls {calls}")
            await asyncio.sleep(0.1)
        assert consumer.health().ok
    finally:
        await consumer.stop()
        await producer.stop()
    assert consumer.dead_lettered == 0
    assert calls[-2:] == [0, 1]
