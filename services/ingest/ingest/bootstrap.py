"""Builds the ingest service's app and its collaborators (in the lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from finops.adapters.connections import Connections, OpenedPool
from finops.adapters.dead_letters import DeadLetters
from finops.adapters.group_consumer import ConsumerHealth, GroupConsumer
from finops.adapters.http_auth import TokenGuard, add_auth
from finops.adapters.http_runtime import (
    add_health_routes,
    add_unavailable_handlers,
    watch_task,
)
from finops.adapters.prometheus import PrometheusClient
from finops.adapters.token_store import TokenStore
from finops.domain.focus.mapping import MappingRules, load_rules
from finops.domain.usage_pull import load_pulls
from ingest.consumer import cost_lines_consumer
from ingest.dropfolder import DropFolder
from ingest.metrics import EVENTS, REGISTRY
from ingest.publisher import KafkaPublisher
from ingest.pulls import UsagePuller
from ingest.routes import router
from ingest.service import IngestService
from ingest.settings import IngestSettings
from ingest.spoolfolders import SpoolFolder, sweep_dead_folders
from ingest.store import PgIngestStore
from ingest.topiclines import CostLinesHandler

__all__ = ["create_app"]


def create_app(settings: IngestSettings) -> FastAPI:
    """The service's HTTP app; connections open in its lifespan."""
    connections = Connections(settings.kafka, settings.postgres, client_id="ingest")
    parts: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await connections.open()
            stack.push_async_callback(connections.close)
            await _start_parts(app, settings, connections, stack, parts)
            yield
            parts.clear()

    async def consumer_ok() -> ConsumerHealth:
        consumer = parts.get("consumer")
        return ConsumerHealth(True) if consumer is None else consumer.health()

    async def outbox_ok() -> ConsumerHealth:
        service = parts.get("service")
        failure = "" if service is None else service.outbox.failure
        return ConsumerHealth(not failure, f"events not sent: {failure}")

    app = FastAPI(title="finops ingest", lifespan=lifespan)
    add_health_routes(
        app,
        service="ingest",
        registry=REGISTRY,
        checks={
            "kafka": connections.kafka_ok,
            "database": connections.database_ok,
            "consumer": consumer_ok,
            "outbox": outbox_ok,
        },
    )
    store = TokenStore(OpenedPool(connections), cache_s=settings.auth.cache_s)
    add_auth(app, TokenGuard(store, settings.auth))
    add_unavailable_handlers(app)
    app.include_router(router)
    return app


async def _start_parts(
    app: FastAPI,
    settings: IngestSettings,
    connections: Connections,
    stack: AsyncExitStack,
    parts: dict[str, Any],
) -> None:
    """The service, the drop folder and the cost-lines consumer; stopped in reverse."""
    publisher = KafkaPublisher(
        connections.producer, namespace=settings.kafka.topic_namespace
    )
    service = IngestService(
        PgIngestStore(connections.pool),
        publisher,
        event_batch=settings.event_batch,
        outbox_every_s=settings.outbox_every_s,
        limits=settings.limits(),
    )
    app.state.limits = settings.limits()
    parts["service"] = service
    outbox = asyncio.create_task(service.outbox.run(), name="ingest-outbox")
    watch_task(outbox, "the outbox loop")
    stack.push_async_callback(_cancel, outbox)
    spool = _spool_folder(settings, stack)
    app.state.service, app.state.spool_dir = service, spool
    rules_id = None
    if settings.drop_rules is not None:
        rules_id = await service.save_rules(
            settings.drop_rules.read_text(encoding="utf-8")
        )
    drop = DropFolder(
        service.ingest,
        root=settings.drop_folder,
        poll_s=settings.drop_poll_s,
        source=settings.drop_source,
        rules_id=rules_id,
    )
    await drop.start()
    stack.push_async_callback(drop.stop)
    if settings.consume_cost_lines:
        consumer = _consumer(settings, service, connections, spool)
        await consumer.start()
        stack.push_async_callback(consumer.stop)
        parts["consumer"] = consumer
    if settings.pulls is not None:
        await _start_pulls(settings, service, stack, spool)


def _spool_folder(settings: IngestSettings, stack: AsyncExitStack) -> Path:
    """This process's own spool folder (removed at stop); what dead processes left
    in the shared spool folder is removed first."""
    spool = SpoolFolder.acquire(settings.spool_folder)
    stack.callback(spool.release)
    sweep_dead_folders(settings.spool_folder, keep=spool.path)
    return spool.path


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _start_pulls(
    settings: IngestSettings,
    service: IngestService,
    stack: AsyncExitStack,
    spool: Path,
) -> None:
    """The periodic usage pulls of INGEST_PULLS, with their HTTP client."""
    assert settings.pulls is not None
    pulls = load_pulls(settings.pulls)
    http = httpx.AsyncClient(timeout=httpx.Timeout(120.0, connect=5.0))
    stack.push_async_callback(http.aclose)
    puller = UsagePuller(
        service.ingest,
        PrometheusClient(http),
        pulls,
        spool_dir=spool,
    )
    await puller.start()
    stack.push_async_callback(puller.stop)


def _consumer(
    settings: IngestSettings,
    service: IngestService,
    connections: Connections,
    spool: Path,
) -> GroupConsumer:
    namespace = settings.kafka.topic_namespace
    rules = (
        MappingRules()
        if settings.topic_rules is None
        else load_rules(settings.topic_rules)
    )
    handler = CostLinesHandler(service, spool_dir=spool, rules=rules)
    group = (
        f"{namespace}.{settings.consumer_group}"
        if namespace
        else settings.consumer_group
    )
    dead = DeadLetters(
        connections.producer,
        consumer="ingest",
        namespace=namespace,
        counted=lambda topic: EVENTS.labels(topic, "dead_letter").inc(),
    )
    return cost_lines_consumer(
        handler,
        dead,
        kafka=settings.kafka,
        group_id=group,
        stall_s=settings.stall_s,
    )
