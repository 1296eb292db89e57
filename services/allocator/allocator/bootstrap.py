"""Builds the allocator: connections, store, Faust app and service, in one lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError
from fastapi import FastAPI
from faust.contrib.asgi import faust_app_running

from allocator.compute.process import ComputeProcess
from allocator.health import AllocatorHealth, Health
from allocator.inputs.state import InputState
from allocator.metrics import EVENTS, REGISTRY
from allocator.service import AllocatorService
from allocator.settings import AllocatorSettings
from allocator.store import PostgresResultStore
from allocator.streams import PARTITIONS, AllocatorStreams
from finops.adapters.connections import Connections
from finops.adapters.dead_letters import DeadLetters
from finops.adapters.graphlog import follow_graph
from finops.adapters.http_runtime import add_health_routes, watch_task
from finops.adapters.kafka_admin import ensure_topics
from finops.contracts.events import GraphChanged
from finops.contracts.topics import GRAPH, TopicSpec
from finops.errors import FinopsError

_log = logging.getLogger(__name__)
STOP_FAUST_S = 5.0  # for Faust's agents, tables and producer
STOP_WRITES_S = 3.0  # for the writes under way as the allocator stops (a date not
# written is recomputed after the restart); SIGTERM to exit stays within ~10 s

__all__ = ["CHANGELOG_CONFIG", "create_app"]


def create_app(settings: AllocatorSettings) -> FastAPI:
    """The HTTP app (/healthz, /metrics); its lifespan runs the Faust worker."""
    connections = Connections(settings.kafka, settings.postgres, client_id="allocator")
    health = AllocatorHealth(stall_s=settings.stall_s)
    running: list[AllocatorStreams] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await connections.open()
        try:
            async with _running(settings, connections, health, running):
                yield
        finally:
            await connections.close()

    async def flowing() -> Health:
        if not running:
            return Health(True)
        lag, idle = await running[0].router_health()
        return health.check(
            lag=lag, idle_s=idle.seconds_now(), router_failure=idle.failure
        )

    app = FastAPI(title="finops allocator", lifespan=lifespan)
    add_health_routes(
        app,
        service="allocator",
        registry=REGISTRY,
        checks={
            "kafka": connections.kafka_ok,
            "database": connections.database_ok,
            "processing": flowing,
        },
    )
    return app


@contextlib.asynccontextmanager
async def _running(
    settings: AllocatorSettings,
    connections: Connections,
    health: AllocatorHealth,
    running: list[AllocatorStreams],
) -> AsyncIterator[AllocatorService]:
    """The Faust app and the graph follower, stopped in reverse order."""
    streams = AllocatorStreams(settings)
    if settings.flows_every_s is not None:
        _log.warning(
            "ALLOCATOR_FLOWS_EVERY_S is ignored: flows are derived, not written"
        )
    await _create_changelogs(settings, streams)
    computer = (
        ComputeProcess(
            engines=settings.engine_days,
            frames=settings.snapshot_days,
        )
        if settings.compute_process
        else None
    )
    service = _service(settings, streams, connections, computer)
    dead = DeadLetters(
        connections.producer,
        consumer="allocator",
        namespace=settings.kafka.topic_namespace,
        counted=lambda topic: EVENTS.labels(topic, "dead_letter").inc(),
    )
    streams.wire(service, dead_letters=dead, health=health)
    running.append(streams)
    follower = asyncio.create_task(
        _follow(settings, service, streams, dead), name="graph-follower"
    )
    follower.add_done_callback(lambda task: _follower_ended(task, health))
    watch_task(follower, "the graph follower")
    try:
        async with faust_app_running(streams.app, stop_timeout=STOP_FAUST_S):
            try:
                yield service
            finally:  # while the producer still runs, for their announcements
                await _stop_writes(service)
    finally:
        running.clear()
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        if computer is not None:
            await computer.close()


def _follower_ended(task: asyncio.Task[None], health: AllocatorHealth) -> None:
    if not task.cancelled():
        exc = task.exception()
        health.graph_stopped(f"{type(exc).__name__}: {exc}" if exc else "ended")


def _service(
    settings: AllocatorSettings,
    streams: AllocatorStreams,
    connections: Connections,
    computer: ComputeProcess | None,
) -> AllocatorService:
    """The service over the Faust tables, PostgreSQL and the compute process (None:
    dates are allocated in a thread of the worker)."""
    return AllocatorService(
        InputState(streams.costs, streams.usage, streams.applied),
        PostgresResultStore(connections.pool),
        streams.publisher,
        partitions=PARTITIONS,
        snapshot_days=settings.snapshot_days,
        engine_days=settings.engine_days,
        computer=computer,
        freshness_target_s=settings.freshness_target_s,
        group_days=settings.group_days,
    )


async def _stop_writes(service: AllocatorService) -> None:
    """Let the writes under way finish (a date not written is recomputed later)."""
    try:
        await asyncio.wait_for(service.stop(), STOP_WRITES_S)
    except TimeoutError:
        _log.warning("stopped with writes under way; their dates are recomputed")


class _ChangelogSpec(TopicSpec):
    """A changelog topic whose old segments are compacted soon.

    Kafka compacts only closed segments, and by default a segment closes at 1 GiB or
    after 7 days: a year of state replayed at a restart would be mostly superseded
    values. Small segments and a low dirty ratio keep the replay near one message
    per live key.
    """

    __slots__ = ()

    @property
    def config(self) -> dict[str, str]:
        return {**super().config, **CHANGELOG_CONFIG}


CHANGELOG_CONFIG = {
    "segment.bytes": str(16 * 1024 * 1024),
    "segment.ms": str(3600 * 1000),
    "min.cleanable.dirty.ratio": "0.1",
}


async def _create_changelogs(
    settings: AllocatorSettings, streams: AllocatorStreams
) -> None:
    """Create the tables' changelog topics up front, co-partitioned with the inputs.

    Left to Faust, a changelog created at start-up can be seen with 0 partitions by the
    first agent that writes to it (PartitionsMismatch).
    """
    specs = [
        _ChangelogSpec(
            f"{streams.app_id}-{table}-changelog",
            PARTITIONS,
            True,
            "table key",
            f"Changelog of the allocator's {table} table.",
        )
        for table in ("costs", "usage", "applied")
    ]
    await ensure_topics(
        settings.kafka.bootstrap_servers,
        specs=specs,
        security=settings.kafka.client_options(),
    )


async def _follow(
    settings: AllocatorSettings,
    service: AllocatorService,
    streams: AllocatorStreams,
    dead: DeadLetters,
) -> None:
    """Replay the graph topic, then follow it; ready once caught up. The router
    learns the reach then, and again after every later change. A message that is
    not a graph change goes to the dead letters; a change that would make the graph
    invalid is logged and left out (the graph stays as it was)."""

    while True:
        try:
            await _follow_once(settings, service, streams, dead)
        except (KafkaError, OSError) as exc:  # e.g. a topic's leader not known yet
            # Read again from the start: versions held already are passed over.
            _log.warning("graph topic not readable (%s); reading again in 1 s", exc)
            await asyncio.sleep(1)


async def _follow_once(
    settings: AllocatorSettings,
    service: AllocatorService,
    streams: AllocatorStreams,
    dead: DeadLetters,
) -> None:
    async def bad(message: Any, reason: str) -> None:
        await dead.send(GRAPH, message, reason)

    async for change in follow_graph(settings.kafka, on_bad=bad):
        if change is None:
            streams.ready.set()
        else:
            await _apply_graph(service, change)
        if streams.ready.is_set():
            streams.reach_known(service.reach)


async def _apply_graph(service: AllocatorService, change: GraphChanged) -> None:
    """Apply one graph change; an invalid one is left out, one the database did not
    take (it is away) is tried again until it is."""
    while True:
        try:
            await service.apply_graph(change)
            return
        except FinopsError as exc:
            _log.error("graph version %s left out: %s", change.version, exc)
            EVENTS.labels(GRAPH.name, "refused").inc()
            return
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            _log.warning(
                "graph version %s not stored (%s); again in 1 s", change.version, exc
            )
            await asyncio.sleep(1)
