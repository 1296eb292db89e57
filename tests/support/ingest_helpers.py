"""Helpers of the ingest tests: the service app in-process, reading topics back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypedDict, Unpack

import httpx
from aiokafka import AIOKafkaConsumer

from finops.contracts.codec import decode_event
from finops.contracts.events import Event
from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops.contracts.topics import TopicSpec, topic_name
from ingest.bootstrap import create_app
from ingest.settings import IngestSettings
from tests.support.deadline import Deadline
from tests.support.tokens import create_token

__all__ = ["ingest_client", "ingest_settings", "read_topic"]


class _Overrides(TypedDict, total=False):
    """IngestSettings fields a test may set."""

    spool_dir: Path | None
    drop_dir: Path | None
    drop_poll_s: float
    drop_source: str | None
    drop_rules: Path | None
    topic_rules: Path | None
    consume_cost_lines: bool
    pulls: Path | None
    max_body_bytes: int
    max_expanded_bytes: int
    max_gzip_ratio: float


class _Fields(_Overrides):
    kafka: KafkaSettings
    postgres: PostgresSettings


def ingest_settings(
    kafka: KafkaSettings,
    postgres: PostgresSettings,
    root: Path,
    **overrides: Unpack[_Overrides],
) -> IngestSettings:
    """Settings of an ingest service of one test: its own folders, namespace, schema."""
    fields: _Fields = {
        "kafka": kafka,
        "postgres": postgres,
        "spool_dir": root / "spool",
        "drop_dir": root / "drop",
        "drop_poll_s": 0.1,
        **overrides,
    }
    return IngestSettings(**fields)


@asynccontextmanager
async def ingest_client(
    settings: IngestSettings, *, token: str | None = ""
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the service app, with its lifespan (connections, workers),
    sending `token` ("": a new admin token of the test's schema; None: none)."""
    app = create_app(settings)
    if token == "":
        token = await create_token(settings.postgres)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://ingest", timeout=120, headers=headers
        ) as client:
            yield client


async def read_topic(
    kafka: KafkaSettings, spec: TopicSpec, *, count: int, timeout_ms: int = 20_000
) -> list[tuple[bytes, Event]]:
    """The first `count` (key, event) pairs of a topic of this test's namespace."""
    consumer = AIOKafkaConsumer(
        topic_name(spec, kafka.topic_namespace),
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        found: list[tuple[bytes, Event]] = []
        wait = Deadline(3 * timeout_ms / 1000, f"{count} events on {spec.name}")
        while len(found) < count:
            wait.check(f"{len(found)} arrived")
            batch = await consumer.getmany(timeout_ms=timeout_ms)
            assert batch, f"{len(found)} of {count} events arrived on {spec.name}"
            found += [
                (m.key, decode_event(m.value)) for ms in batch.values() for m in ms
            ]
        return found
    finally:
        await consumer.stop()
