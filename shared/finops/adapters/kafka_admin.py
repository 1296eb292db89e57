"""Kafka administration: readiness, and topics created from finops.contracts.topics."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.structs import TopicPartition

from finops.contracts.topics import ALL_TOPICS, TopicSpec, topic_name
from finops.errors import StackError

__all__ = [
    "committed_metadata",
    "committed_offsets",
    "ensure_topics",
    "wait_until_ready",
]


async def ensure_topics(
    bootstrap_servers: str,
    *,
    namespace: str = "",
    specs: Iterable[TopicSpec] = ALL_TOPICS,
    security: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create the declared topics that do not exist yet; returns the names created.
    `security`: KafkaSettings.client_options() (TLS, SASL)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="finops-admin",
        **(security or {}),
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [(topic_name(s, namespace), s) for s in specs]
        missing = [
            NewTopic(name, s.partitions, 1, topic_configs=s.config)
            for name, s in wanted
            if name not in existing
        ]
        return await _create(admin, missing) if missing else []
    finally:
        await admin.close()


async def committed_offsets(
    bootstrap_servers: str, group: str, *, security: Mapping[str, Any] | None = None
) -> dict[TopicPartition, int]:
    """The offsets a consumer group committed (empty for a group that has none)."""
    offsets = await _committed(bootstrap_servers, group, security)
    return {tp: meta.offset for tp, meta in offsets.items()}


async def committed_metadata(
    bootstrap_servers: str, group: str, *, security: Mapping[str, Any] | None = None
) -> dict[TopicPartition, str]:
    """The metadata a consumer group committed with its offsets, per partition."""
    offsets = await _committed(bootstrap_servers, group, security)
    return {tp: meta.metadata or "" for tp, meta in offsets.items()}


async def _committed(
    bootstrap_servers: str, group: str, security: Mapping[str, Any] | None
) -> dict[TopicPartition, Any]:
    """What a consumer group committed, per partition that has an offset."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="finops-admin",
        **(security or {}),
    )
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta for tp, meta in offsets.items() if meta.offset >= 0}


async def _create(admin: AIOKafkaAdminClient, topics: list[NewTopic]) -> list[str]:
    """The names this call created. A topic created meanwhile by another service (or
    one that the metadata listed late) answers TOPIC_ALREADY_EXISTS: what we wanted,
    but not created here."""
    with contextlib.suppress(TopicAlreadyExistsError):
        response = await admin.create_topics(topics)
        return [str(entry[0]) for entry in response.topic_errors if entry[1] == 0]
    return []


async def _probe(bootstrap_servers: str) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=3000
    )
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()


def wait_until_ready(bootstrap_servers: str, *, timeout_s: float) -> None:
    """Block until the broker answers a metadata request."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            asyncio.run(asyncio.wait_for(_probe(bootstrap_servers), timeout=5))
            return
        except (KafkaError, OSError, TimeoutError) as exc:
            last = exc
            time.sleep(0.3)
    raise StackError(
        f"Kafka at {bootstrap_servers} not ready in {timeout_s:.0f}s: {last}"
    )
