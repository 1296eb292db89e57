"""The router process on the real broker: it routes only once it knows the reach,
forwards each date's piece to that date's partition, reports what it routed and its
lag to the worker, and is started again when it dies."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import uuid
from datetime import UTC, date, datetime, timedelta
from multiprocessing.process import BaseProcess

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from allocator import metrics
from allocator.routing.consumer import RouterOptions
from allocator.routing.pieces import Reach, partition_of
from allocator.routing.process import RouterProcess
from finops.adapters.kafka_admin import ensure_topics
from finops.contracts.codec import decode_event, encode_event
from finops.contracts.events import DayInputsRouted, UsageReported
from finops.contracts.settings import KafkaSettings
from finops.contracts.topics import ALLOCATOR_INPUTS, NODE_COSTS, USAGE, topic_name
from finops.domain.records import UsageRecord

pytestmark = pytest.mark.integration
DAY = date(2025, 2, 1)


def _usage(value: float) -> bytes:
    row = UsageRecord(node="app", date=DAY, metric="requests", value=value)
    return encode_event(
        UsageReported(
            event_id=uuid.uuid4(),
            occurred_at=datetime.now(UTC),
            source="meter",
            usage=[row],
        )
    )


async def _pieces(
    servers: str, topic: str, count: int
) -> list[tuple[int, DayInputsRouted]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[tuple[int, DayInputsRouted]] = []
    try:
        async with asyncio.timeout(60):
            while len(found) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for message in (m for ms in batch.values() for m in ms):
                    piece = decode_event(message.value)
                    assert isinstance(piece, DayInputsRouted)
                    found.append((message.partition, piece))
    finally:
        await consumer.stop()
    return found


def _routed(topic: str) -> float:
    return (
        metrics.REGISTRY.get_sample_value(
            "finops_allocator_events_total", {"topic": topic, "outcome": "routed"}
        )
        or 0.0
    )


async def test_the_router_process_routes_with_the_reach_and_comes_back(
    kafka_settings: KafkaSettings,
) -> None:
    servers, ns = kafka_settings.bootstrap_servers, kafka_settings.topic_namespace
    await ensure_topics(servers, namespace=ns)
    sources = [topic_name(NODE_COSTS, ns), topic_name(USAGE, ns)]
    inputs = topic_name(ALLOCATOR_INPUTS, ns)
    router = RouterProcess(
        RouterOptions(
            bootstrap_servers=servers,
            topics=sources,
            inputs_topic=inputs,
            partitions=ALLOCATOR_INPUTS.partitions,
            group_id=f"{ns}-router",
            client_id=f"{ns}-router",
            group_instance_id=None,
            legacy_group=None,
            session_timeout_s=6.0,
        )
    )
    before = _routed(sources[1])
    producer = AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    running = asyncio.create_task(router.run())
    try:
        await producer.send_and_wait(sources[1], _usage(1.0), partition=0)
        router.set_reach(Reach.every(3))  # every usage row: its date and the next two
        pieces = await _pieces(servers, inputs, 3)
        assert sorted((p.charge_date, part) for part, p in pieces) == [
            (day, partition_of(day, ALLOCATOR_INPUTS.partitions))
            for day in (DAY, DAY + timedelta(days=1), DAY + timedelta(days=2))
        ]
        assert all(isinstance(p, DayInputsRouted) for _, p in pieces)
        async with asyncio.timeout(30):  # reported to this process's metrics
            while _routed(sources[1]) < before + 1 or router.lag()[sources[1]] != 0:
                await asyncio.sleep(0.2)

        children = {c.pid for c in _children() if c.pid is not None}
        assert children, "no router process"
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        await producer.send_and_wait(sources[1], _usage(2.0), partition=0)
        pieces = await _pieces(servers, inputs, 6)  # routed by the new process
        values = sorted(p.usage[0].value for _, p in pieces)
        assert values[-3:] == [2.0, 2.0, 2.0]
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await producer.stop()
    assert not [c for c in _children() if c.is_alive()]


def _children() -> list[BaseProcess]:
    return [
        c
        for c in multiprocessing.active_children()
        if c.name == "finops-allocator-router"
    ]
