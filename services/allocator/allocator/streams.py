"""The Faust app: topics, changelog-backed tables, the agents that feed the service."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import faust
from aiokafka.errors import KafkaError
from faust.types import TP

from allocator import gcpolicy, metrics
from allocator.changelog_store import BulkRestoredTable
from allocator.compute.process import ComputeLost
from allocator.faustkafka import App
from allocator.health import AllocatorHealth
from allocator.routing.consumer import (
    RouterOptions,
    SourceRouter,
    rejecter,
    source_consumer,
)
from allocator.routing.pieces import Reach
from allocator.routing.process import RouterIdle, RouterProcess
from allocator.service import AllocatorService
from allocator.settings import AllocatorSettings
from finops.adapters.dead_letters import DeadLetters
from finops.contracts.codec import decode_accepted, encode_event
from finops.contracts.events import (
    DayInputsRouted,
)
from finops.contracts.settings import KafkaSettings
from finops.contracts.topics import (
    ALLOCATIONS,
    ALLOCATOR_INPUTS,
    NODE_COSTS,
    USAGE,
    topic_name,
)
from finops.errors import FinopsError

__all__ = ["AllocatorStreams", "FaustPublisher"]

_log = logging.getLogger(__name__)
PARTITIONS = ALLOCATOR_INPUTS.partitions
RECOMPUTE_REST = 0.5  # pause after a pass, as a share of its length (in-process)
MAX_REST_S = 0.3  # never longer: a long pass (a restart's, a preload's) is no pace
REVOKE_WAIT_S = 10.0  # for the writes under way as partitions are revoked
PRODUCER_LINGER_S = 0.01
PRODUCER_BATCH_BYTES = 1 << 20


class FaustPublisher:
    """Sends routed pieces to the inputs topic and results to the allocations topic."""

    def __init__(self, inputs: faust.TopicT, allocations: faust.TopicT) -> None:
        self._inputs, self._allocations = inputs, allocations

    async def forward(self, partition: int, piece: DayInputsRouted) -> None:
        key = piece.charge_date.isoformat().encode()
        await self._inputs.send(key=key, value=encode_event(piece), partition=partition)

    async def publish(self, day: date, event: bytes) -> None:
        await self._allocations.send(key=day.isoformat().encode(), value=event)


class AllocatorStreams:
    """Builds the Faust app around a service factory; tables are the durable state."""

    def __init__(self, settings: AllocatorSettings) -> None:
        namespace = settings.kafka.topic_namespace
        self.app_id = f"{namespace}-{settings.app_id}" if namespace else settings.app_id
        self.app = _app(self.app_id, settings)
        raw = {"key_serializer": "raw", "value_serializer": "raw"}
        self.source_topics = [
            topic_name(NODE_COSTS, namespace),
            topic_name(USAGE, namespace),
        ]
        self.inputs_name = topic_name(ALLOCATOR_INPUTS, namespace)
        self.inputs = self.app.topic(self.inputs_name, partitions=PARTITIONS, **raw)
        allocations = self.app.topic(topic_name(ALLOCATIONS, namespace), **raw)
        self.publisher = FaustPublisher(self.inputs, allocations)
        self._settings = settings
        servers = self._servers = settings.kafka.bootstrap_servers
        self._rest_share = 0.0 if settings.compute_process else RECOMPUTE_REST
        self._instance_id = settings.instance_id()
        self._session_timeout_s = settings.session_timeout_s
        # Inputs are JSON we encode ourselves (orjson, see inputs.keys.encode_bucket).
        self.costs = self._table("costs", servers, value_type=bytes)
        self.usage = self._table("usage", servers, value_type=bytes)
        self.applied = self._table("applied", servers)
        self.ready = asyncio.Event()
        self.positions: dict[TP, int] = {}
        self._service: AllocatorService | None = None  # set by wire()

    def _table(
        self, name: str, bootstrap_servers: str, **kwargs: Any
    ) -> BulkRestoredTable:
        table = self.app.Table(
            name,
            default=None,
            partitions=PARTITIONS,
            key_type=str,
            options={
                "bootstrap_servers": bootstrap_servers,
                "security": self._settings.kafka.client_options(),
            },
            **kwargs,
        )
        assert isinstance(table, BulkRestoredTable)
        return table

    def wire(
        self,
        service: AllocatorService,
        *,
        dead_letters: DeadLetters,
        health: AllocatorHealth,
    ) -> None:
        """Register the router, the agent, the recovery hook and the recompute loop;
        messages they cannot use go to `dead_letters`, what fails to `health`."""
        self._service, self._dead, self._health = service, dead_letters, health
        self._router = self._router_options()
        if self._settings.router_process:
            self.router_process = RouterProcess(self._router)
            self.app.task(self.router_process.run)
            self._router_lag = self._process_lag
        else:
            self.router = self._in_process_router(service)
            self.app.task(self._route)
            self._router_lag = self.router.lag
        self.app.agent(self.inputs, name="apply")(self._applier(service))
        self.applied.on_recover(self._on_recover(service))
        self.app.task(self._recompute_loop(service))
        self.app.timer(1.0)(self._measure_lag)
        self.app.on_partitions_revoked.connect(self._forget_positions)

    def _router_options(self) -> RouterOptions:
        return RouterOptions(
            bootstrap_servers=self._servers,
            topics=self.source_topics,
            inputs_topic=self.inputs_name,
            partitions=PARTITIONS,
            group_id=f"{self.app_id}-router",
            client_id=f"{self.app_id}-router",
            group_instance_id=_suffixed(self._instance_id, "-router"),
            legacy_group=self.app_id,  # the Faust group routed before the router
            session_timeout_s=self._session_timeout_s,
            log_level=self._settings.log_level,
            namespace=self._settings.kafka.topic_namespace,
            kafka=self._settings.kafka,
        )

    def _in_process_router(self, service: AllocatorService) -> SourceRouter:
        return SourceRouter(
            service,
            source_consumer(self._router),
            bootstrap_servers=self._servers,
            ready=self.ready,
            flush=lambda: self.app.producer.flush(),
            reject=rejecter(self._dead, self._router.namespace),
            security=self._router.security(),
            reach=lambda: service.reach,
            group_id=self._router.group_id,
        )

    def reach_known(self, reach: Reach) -> None:
        """The graph is caught up or changed: the router process learns its reach
        (the router in the worker reads it from the service)."""
        if self._settings.router_process:
            self.router_process.set_reach(reach)
        else:
            self.router.reach_changed()

    async def _process_lag(self) -> dict[str, int]:
        return self.router_process.lag()

    async def router_health(self) -> tuple[int, RouterIdle]:
        """Messages the router has not routed, and how long it has not advanced."""
        if self._settings.router_process:
            return sum(self.router_process.lag().values()), self.router_process.idle()
        idle = RouterIdle(0.0, self.router.failure, self.router.progress_at)
        return sum((await self.router.lag()).values()), idle

    async def _forget_positions(self, sender: Any, revoked: set[TP], **_: Any) -> None:
        # Another worker goes on from where it was committed: a position kept from
        # before would count its progress as lag should the partition come back.
        for tp in revoked:
            self.positions.pop(tp, None)
        # Writes under way end before another worker may write the same dates.
        if self._service is None:
            return
        try:
            await asyncio.wait_for(self._service.quiesce(), REVOKE_WAIT_S)
        except TimeoutError:
            _log.warning("writes still under way as partitions are revoked")

    async def _route(self) -> None:
        await self.router.run(
            self._router.topics, legacy_group=self._router.legacy_group
        )

    def _applier(self, service: AllocatorService) -> Any:
        async def apply(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
            async for event in stream.events():
                await self.ready.wait()
                message = event.message
                self.positions[message.tp] = message.offset
                try:
                    piece = decode_accepted(event.value, (DayInputsRouted,))
                except FinopsError as exc:
                    await self._dead.send(ALLOCATOR_INPUTS, message, str(exc))
                    metrics.EVENTS.labels(message.topic, "dead_letter").inc()
                    yield None
                    continue
                service.apply(piece, partition=message.partition, offset=message.offset)
                metrics.EVENTS.labels(message.topic, "applied").inc()
                yield None

        return apply

    def _on_recover(self, service: AllocatorService) -> Any:
        async def recovered() -> None:
            # Runs inside Faust's recovery: nothing here may wait on the stream.
            for table in (self.costs, self.usage, self.applied):
                await table.restored()  # each table's bulk read is done
            actives = self.app.assignor.assigned_actives()
            owned = {tp.partition for tp in actives if tp.topic == self.inputs_name}
            service.assign(owned)
            gcpolicy.settle()
            _log.info("allocator owns partitions %s", sorted(owned))

        return recovered

    def _recompute_loop(self, service: AllocatorService) -> Any:
        async def recompute() -> None:
            await self.ready.wait()
            rest = 0.05  # let a burst of inputs land first
            while True:
                await service.changed.wait()
                await asyncio.sleep(rest)
                began = time.monotonic()
                try:
                    await service.recompute_due()
                    self._health.pass_done()
                except (OSError, asyncpg.PostgresError, ComputeLost) as exc:
                    _log.warning("results not stored (%s); retrying", exc)
                    self._health.pass_failed(f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(1)
                except Exception as exc:  # a bug: crashing the app would leave the
                    # worker hanging in the groups with nothing done; dates retried
                    _log.exception("recompute pass failed; retrying in 5 s")
                    self._health.pass_failed(f"{type(exc).__name__}: {exc}")
                    service.recheck()
                    await asyncio.sleep(5)
                # Allocating in this process, a pass costs about the same under load
                # whatever it covers: resting a share of its length leaves the agents
                # (one core, one GIL) room to fold in more inputs, so the next pass
                # covers more of them. A compute process leaves them that room anyway.
                # Either way, passes rest longer while results are fresher than the
                # target, so they fold in more events for the same work (0310).
                took = time.monotonic() - began
                rest = min(MAX_REST_S, max(0.05, self._rest_share * took))
                rest = max(rest, service.pacing.rest_after(took))
                service.observer.resting(rest)

        return recompute

    async def _measure_lag(self) -> None:
        consumer = self.app.consumer
        # Every topic is reported, 0 when none of its partitions is owned any more
        # (a gauge keeps its last value: a moved partition would show lag forever).
        lag = {**await self._router_lag(), self.inputs_name: 0}
        for tp in consumer.assignment():
            if tp.topic != self.inputs_name:  # changelogs
                continue
            try:
                high = consumer.highwater(tp)
            except (AssertionError, KafkaError):  # revoked meanwhile: not ours
                continue
            done = await self._done(tp)
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, (high or 0) - done)
        for topic, value in lag.items():
            metrics.CONSUMER_LAG.labels(topic).set(value)

    async def _done(self, tp: TP) -> int:
        """The offset up to which a partition is processed."""
        seen = self.positions.get(tp)
        if seen is not None:
            return seen + 1
        # Nothing processed here yet: the consumer's position (the committed offset,
        # or the end when another worker had read it all) is where it stands.
        try:
            return await self.app.consumer.position(tp) or 0
        except Exception:  # moved away meanwhile: no lag of ours
            return self.app.consumer.highwater(tp) or 0


def _app(app_id: str, settings: AllocatorSettings) -> App:
    """The Faust app: in-memory tables restored in bulk, static membership."""
    return App(
        app_id,
        broker=f"kafka://{settings.kafka.bootstrap_servers}",
        broker_credentials=_credentials(settings.kafka),
        store="memory://",
        Table=BulkRestoredTable,  # in memory, restored in bulk from the changelog
        topic_partitions=PARTITIONS,
        topic_replication_factor=1,
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.session_timeout_s / 5,
        consumer_group_instance_id=settings.instance_id(),
        web_enabled=False,
        # Table writes send one changelog message per key; batched per request
        # they cost a fraction of the CPU of one small request each.
        producer_linger=PRODUCER_LINGER_S,
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        datadir=settings.data_dir or Path(tempfile.gettempdir()) / app_id,
    )


def _credentials(kafka: KafkaSettings) -> faust.types.auth.CredentialsT | None:
    """Faust's form of the Kafka security settings (None: plaintext)."""
    if kafka.uses_sasl:
        options = kafka.client_options()
        return faust.SASLCredentials(
            username=options["sasl_plain_username"],
            password=options["sasl_plain_password"],
            ssl_context=options.get("ssl_context"),
            mechanism=kafka.sasl_mechanism,
        )
    if kafka.uses_tls:
        return faust.SSLCredentials(kafka.ssl_context())
    return None


def _suffixed(instance_id: str | None, suffix: str) -> str | None:
    """A static member id of another group of the same worker (None: dynamic)."""
    return None if instance_id is None else instance_id + suffix
