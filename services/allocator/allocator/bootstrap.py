"""Builds the allocator: connections, store, Faust app and service, in one lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI
from faust.contrib.asgi import faust_app_running

from allocator.compute.process import ComputeProcess
from allocator.inputs.state import InputState
from allocator.metrics import REGISTRY
from allocator.service import AllocatorService
from allocator.settings import AllocatorSettings
from allocator.store import PostgresResultStore
from allocator.streams import PARTITIONS, AllocatorStreams
from finops.adapters.connections import Connections
from finops.adapters.graphlog import follow_graph
from finops.adapters.http_runtime import add_health_routes
from finops.adapters.kafka_admin import ensure_topics
from finops.contracts.topics import TopicSpec

_log = logging.getLogger(__name__)
STOP_WRITES_S = 30.0  # for the writes under way as the allocator stops

__all__ = ["CHANGELOG_CONFIG", "create_app"]


def create_app(settings: AllocatorSettings) -> FastAPI:
    """The HTTP app (/healthz, /metrics); its lifespan runs the Faust worker."""
    connections = Connections(settings.kafka, settings.postgres, client_id="allocator")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await connections.open()
        try:
            async with _running(settings, connections):
                yield
        finally:
            await connections.close()

    app = FastAPI(title="finops allocator", lifespan=lifespan)
    add_health_routes(
        app,
        service="allocator",
        registry=REGISTRY,
        checks={"kafka": connections.kafka_ok, "database": connections.database_ok},
    )
    return app


@contextlib.asynccontextmanager
async def _running(
    settings: AllocatorSettings, connections: Connections
) -> AsyncIterator[AllocatorService]:
    """The Faust app and the graph follower, stopped in reverse order."""
    streams = AllocatorStreams(settings)
    await _create_changelogs(settings, streams)
    computer = (
        ComputeProcess(
            engines=settings.engine_days,
            frames=settings.snapshot_days,
            flows_every_s=settings.flows_every_s,
        )
        if settings.compute_process
        else None
    )
    service = _service(settings, streams, connections, computer)
    streams.wire(service)
    follower = asyncio.create_task(
        _follow(settings, service, streams.ready, streams.window_known)
    )
    try:
        async with faust_app_running(streams.app, stop_timeout=30):
            try:
                yield service
            finally:  # while the producer still runs, for their announcements
                await _stop_writes(service)
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        if computer is not None:
            await computer.close()


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
        flows_every_s=settings.flows_every_s,
        computer=computer,
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
    await ensure_topics(settings.kafka.bootstrap_servers, specs=specs)


async def _follow(
    settings: AllocatorSettings,
    service: AllocatorService,
    ready: asyncio.Event,
    window_known: Callable[[int], None],
) -> None:
    """Replay the graph topic, then follow it; ready once caught up. The router
    learns the window then, and again after every later change."""
    async for change in follow_graph(settings.kafka):
        if change is None:
            ready.set()
        else:
            await service.apply_graph(change)
        if ready.is_set():
            window_known(service.window)
