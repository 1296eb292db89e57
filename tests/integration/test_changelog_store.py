"""The allocator table store reads its changelog partitions in bulk, as Faust would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaProducer
from faust.types import TP

from allocator.changelog_store import BulkRestoredStore, BulkRestoredTable
from finops.adapters.kafka_admin import ensure_topics
from finops.contracts.settings import KafkaSettings
from finops.contracts.topics import TopicSpec

pytestmark = pytest.mark.integration


@dataclass
class _Message:
    partition: int
    value: bytes | None


@dataclass
class _Event:
    """What Faust's recovery hands a store: decoded key and value, the raw message."""

    key: str
    value: Any
    message: _Message


def _store(kafka: KafkaSettings) -> tuple[BulkRestoredStore, str]:
    app = faust.App(
        f"{kafka.topic_namespace}-app",
        broker=f"kafka://{kafka.bootstrap_servers}",
        Table=BulkRestoredTable,
    )
    table = app.Table(
        "t",
        default=None,
        partitions=2,
        key_type=str,
        options={"bootstrap_servers": kafka.bootstrap_servers},
    )
    return table.data, table.changelog_topic_name


async def _write(kafka: KafkaSettings, topic: str, rows: list[Any]) -> None:
    await ensure_topics(
        kafka.bootstrap_servers, specs=[TopicSpec(topic, 2, True, "key", "test")]
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        for partition, key, value in rows:
            raw = None if value is None else json.dumps(value).encode()
            await producer.send_and_wait(
                topic, key=json.dumps(key).encode(), value=raw, partition=partition
            )
    finally:
        await producer.stop()


async def test_bulk_read_keeps_each_keys_last_value_and_drops_deleted_keys(
    kafka_settings: KafkaSettings,
) -> None:
    store, topic = _store(kafka_settings)
    rows = [(0, "a", {"x": 1}), (1, "b", {"y": 2}), (0, "a", {"x": 3})]
    await _write(kafka_settings, topic, [*rows, (1, "b", None), (1, "c", [4])])
    await store.restore({TP(topic, 0), TP(topic, 1)})
    await store.restored()
    assert dict(store.data) == {"a": {"x": 3}, "c": [4]}
    assert store.persisted_offset(TP(topic, 0)) == 1
    assert store.persisted_offset(TP(topic, 1)) == 2


async def test_replay_during_the_bulk_read_is_applied_after_it(
    kafka_settings: KafkaSettings,
) -> None:
    store, topic = _store(kafka_settings)
    await _write(kafka_settings, topic, [(0, "a", 1), (0, "b", 1)])
    await store.restore({TP(topic, 0)})
    # Faust replays what follows the persisted offset while the bulk read runs.
    store.apply_changelog_batch(
        [_Event("a", 2, _Message(0, b"2")), _Event("b", None, _Message(0, None))],
        to_key=store.table._to_key,
        to_value=store.table._to_value,
    )
    await store.restored()
    assert dict(store.data) == {"a": 2}


async def test_a_partition_given_away_is_dropped_and_read_again_when_back(
    kafka_settings: KafkaSettings,
) -> None:
    store, topic = _store(kafka_settings)
    await _write(kafka_settings, topic, [(0, "a", 1), (1, "b", 1)])
    await store.restore({TP(topic, 0), TP(topic, 1)})
    await store.restored()
    await store.restore({TP(topic, 0)})
    assert dict(store.data) == {"a": 1}
    assert store.persisted_offset(TP(topic, 1)) is None
    store.set_persisted_offset(TP(topic, 1), 7)  # a late acknowledgement
    await store.restore({TP(topic, 0), TP(topic, 1)})
    await store.restored()
    assert dict(store.data) == {"a": 1, "b": 1}
    assert store.persisted_offset(TP(topic, 1)) == 0
