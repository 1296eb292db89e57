"""Events go through the real broker: topics from the specs, encoded, keyed, decoded."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from finops.adapters.kafka_admin import ensure_topics
from finops.contracts.codec import decode_event, encode_event
from finops.contracts.events import Event, NodeCostsReported
from finops.contracts.settings import KafkaSettings
from finops.contracts.topics import ALL_TOPICS, NODE_COSTS, topic_name
from finops.domain.records import NodeCost
from tests.support.deadline import Deadline

pytestmark = pytest.mark.integration


def _costs_event(amount: int) -> NodeCostsReported:
    cost = NodeCost(
        node="db", date=date(2024, 9, 1), dimension="compute", amount_micros=amount
    )
    return NodeCostsReported(
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        source="test",
        costs=[cost],
    )


async def test_declared_topics_are_created_with_partitions_and_policy(
    kafka_settings: KafkaSettings,
) -> None:
    ns = kafka_settings.topic_namespace
    created = await ensure_topics(kafka_settings.bootstrap_servers, namespace=ns)
    assert sorted(created) == sorted(topic_name(s, ns) for s in ALL_TOPICS)
    assert await ensure_topics(kafka_settings.bootstrap_servers, namespace=ns) == []
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
    await admin.start()
    try:
        name = topic_name(NODE_COSTS, ns)
        # A topic just made may be described before its partitions' metadata has
        # reached the broker answering (KRaft propagates it): ask until it has.
        wait = Deadline(30, f"{name} described with its partitions")
        while True:
            [described] = await admin.describe_topics([name])
            if described["partitions"]:
                break
            wait.check(str(described))
            await asyncio.sleep(0.1)
        assert len(described["partitions"]) == NODE_COSTS.partitions
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name)]
        )
        entries = {e[0]: e[1] for e in configs[0].resources[0][4]}
        assert entries["cleanup.policy"] == "delete"
        assert entries["retention.ms"] == NODE_COSTS.config["retention.ms"]
    finally:
        await admin.close()


async def test_events_round_trip_through_the_broker_in_key_order(
    kafka_settings: KafkaSettings,
) -> None:
    ns = kafka_settings.topic_namespace
    await ensure_topics(
        kafka_settings.bootstrap_servers, namespace=ns, specs=[NODE_COSTS]
    )
    topic = topic_name(NODE_COSTS, ns)
    sent = [_costs_event(amount) for amount in (-1_500_000, 2, 3_000_000)]
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_settings.bootstrap_servers, enable_idempotence=True
    )
    await producer.start()
    try:
        for event in sent:
            await producer.send_and_wait(topic, encode_event(event), key=b"2024-09-01")
    finally:
        await producer.stop()
    received = await _consume(kafka_settings.bootstrap_servers, topic, len(sent))
    assert received == sent


async def _consume(bootstrap: str, topic: str, count: int) -> list[Event]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        out: list[Event] = []
        wait = Deadline(60, f"{count} events on {topic}")
        while len(out) < count:
            wait.check(f"{len(out)} arrived")
            batch = await consumer.getmany(timeout_ms=10_000)
            assert batch, "no message arrived within 10 s"
            out += [decode_event(m.value) for msgs in batch.values() for m in msgs]
        return out
    finally:
        await consumer.stop()
