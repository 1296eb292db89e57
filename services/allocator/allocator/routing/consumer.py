"""Routing of source events with a plain consumer: a batch in, pieces out, commit.

Routing keeps no state (the graph's window aside), so it needs none of a Faust
agent's machinery (docs/decisions/0003-routing-in-its-own-process.md). The pieces
it forwards are delivered before its offsets are committed, so a worker killed at
any point routes the uncommitted events again (pieces are sets: replaying one is
harmless). The stateful part (the inputs topic and the tables) stays with Faust.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from allocator import metrics
from allocator.routing.pieces import NO_COPIES, Reach
from finops.adapters.dead_letters import DeadLetters
from finops.adapters.kafka_admin import committed_metadata, committed_offsets
from finops.contracts.codec import decode_accepted
from finops.contracts.events import NodeCostsReported, UsageReported
from finops.contracts.settings import KafkaSettings
from finops.contracts.topics import NODE_COSTS, USAGE, TopicSpec, topic_name
from finops.errors import FinopsError

__all__ = [
    "Reject",
    "Routed",
    "RouterOptions",
    "Routes",
    "SourceRouter",
    "record",
    "rejecter",
    "source_consumer",
]

_log = logging.getLogger(__name__)
ROUTE_BATCH = 1000  # events routed together: pieces of one date and source merge
ROUTE_WITHIN_S = 0.25  # the longest wait for a first event
ROUTE_GATHER_S = 0.15  # then events are gathered this long: fewer, larger pieces
# The broker answers a fetch once this much is there, or after FETCH_WAIT_MS:
# at thousands of small events a second a fetch per few events (the default,
# 1 byte) costs the broker and the router far more than the events themselves
# (docs/decisions/0260-fewer-larger-kafka-requests.md).
FETCH_MIN_BYTES = 64 * 1024
FETCH_WAIT_MS = 100  # below ROUTE_GATHER_S: a batch still gathers what arrives
KNOWN_REACHES = 8  # reaches routed with, remembered to read commits made with them


@dataclass(frozen=True)
class RouterOptions:
    """What the router process needs to know (also in a process of its own)."""

    bootstrap_servers: str
    topics: list[str]  # the source topics
    inputs_topic: str
    partitions: int  # of the inputs topic
    group_id: str
    client_id: str
    group_instance_id: str | None
    legacy_group: str | None  # where never-committed partitions start
    session_timeout_s: float
    log_level: str = "INFO"
    namespace: str = ""  # the topic namespace (for the dead-letter topics)
    kafka: KafkaSettings | None = None  # for the security settings (TLS, SASL)

    def security(self) -> dict[str, Any]:
        """aiokafka keyword arguments of the security settings."""
        return self.kafka.client_options() if self.kafka is not None else {}


def source_consumer(options: RouterOptions) -> AIOKafkaConsumer:
    """The router's consumer of the source topics (a group of its own)."""
    return AIOKafkaConsumer(
        bootstrap_servers=options.bootstrap_servers,
        client_id=options.client_id,
        group_id=options.group_id,
        group_instance_id=options.group_instance_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=ROUTE_BATCH,
        fetch_min_bytes=FETCH_MIN_BYTES,
        fetch_max_wait_ms=FETCH_WAIT_MS,
        session_timeout_ms=int(options.session_timeout_s * 1000),
        heartbeat_interval_ms=int(options.session_timeout_s * 200),
        **options.security(),
    )


Routable = NodeCostsReported | UsageReported
_ROUTED: Final[tuple[type[Routable], ...]] = (NodeCostsReported, UsageReported)
# Sends one message that cannot be routed, with the reason, to its dead-letter topic.
Reject = Callable[[Any, str], Awaitable[None]]


def rejecter(dead_letters: DeadLetters, namespace: str) -> Reject:
    """A Reject sending to the dead-letter topic of the source topic read from."""
    specs: dict[str, TopicSpec] = {
        topic_name(spec, namespace): spec for spec in (NODE_COSTS, USAGE)
    }

    async def reject(message: Any, reason: str) -> None:
        await dead_letters.send(specs[message.topic], message, reason)

    return reject


class Routes(Protocol):
    """Where routed events go (the service, or the router process's forwarder)."""

    async def route_batch(self, events: list[tuple[Routable, str]]) -> int: ...


@dataclass
class Routed:
    """What one batch did, for the metrics (reported across processes)."""

    routed: Counter[str] = field(default_factory=Counter)  # events per topic
    dead_lettered: Counter[str] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)  # ingest -> routed, per event


def record(report: Routed) -> None:
    """Count a batch in this process's metrics."""
    for topic, count in report.routed.items():
        metrics.EVENTS.labels(topic, "routed").inc(count)
    for topic, count in report.dead_lettered.items():
        metrics.EVENTS.labels(topic, "dead_letter").inc(count)
    metrics.observe_many(metrics.INGEST_TO_ROUTED, ((s, 1) for s in report.seconds))


class SourceRouter:
    """Consumes the node-costs and usage topics and routes them through the service."""

    def __init__(
        self,
        service: Routes,
        consumer: AIOKafkaConsumer,
        *,
        bootstrap_servers: str,
        ready: asyncio.Event,
        flush: Callable[[], Awaitable[None]],
        reject: Reject,
        report: Callable[[Routed], None] = record,
        security: dict[str, Any] | None = None,
        reach: Callable[[], Reach] = lambda: NO_COPIES,
        group_id: str = "",
    ) -> None:
        self._service, self.consumer, self._ready = service, consumer, ready
        self._flush = flush  # waits until every forwarded piece is delivered
        self._reject = reject
        self._report = report
        self.progress_at = time.monotonic()  # when a batch was last committed
        self.failure = ""  # why the last batch was not routed ("" once one was)
        self._servers, self._security = bootstrap_servers, security
        # The graph's reach (the dates a usage row is copied to) as the service knows
        # it; each commit records the reach its batch was routed with, so usage
        # routed with one that did not cover today's is routed again
        # (reach_changed) even after a restart. The reaches routed with here, by
        # digest, tell a narrower reach from a wider one.
        self._reach, self._group = reach, group_id
        self._reaches: dict[str, Reach] = {}
        self._check_reach = True
        self._done: dict[TopicPartition, int] = {}  # next offset to route
        # Where the Faust group that routed before left partitions this router's
        # group never committed (read at start).
        self._legacy: dict[TopicPartition, int] = {}

    async def run(self, topics: list[str], *, legacy_group: str | None = None) -> None:
        """Route until cancelled; the consumer is stopped on the way out.

        Partitions this router's group never committed start where `legacy_group`
        (the Faust group that routed before) left them, else at the beginning.
        """
        try:
            await self.consumer.start()
            legacy = (
                await committed_offsets(
                    self._servers, legacy_group, security=self._security
                )
                if legacy_group
                else {}
            )
            self._legacy = legacy
            self.consumer.subscribe(topics, listener=_Rebalance(self, legacy))
            await self._ready.wait()  # the graph is caught up: the window is known
            while True:
                if self._check_reach:
                    await self._reroute_uncovered_usage()
                batch = await self._gather()
                if batch:
                    await self._route_or_rewind(batch)
        finally:
            await self.consumer.stop()

    async def _gather(self) -> dict[TopicPartition, list[Any]]:
        """A batch: what arrives within ROUTE_GATHER_S of its first event (or
        ROUTE_BATCH events). Pieces of one date and source merge within a batch:
        each piece costs the worker a decode, an apply and changelog writes."""
        batch: dict[TopicPartition, list[Any]] = await self.consumer.getmany(
            timeout_ms=int(ROUTE_WITHIN_S * 1000), max_records=ROUTE_BATCH
        )
        count = sum(map(len, batch.values()))
        deadline = time.monotonic() + ROUTE_GATHER_S
        while batch and count < ROUTE_BATCH:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = await self.consumer.getmany(
                timeout_ms=int(left * 1000) + 1, max_records=ROUTE_BATCH - count
            )
            for tp, messages in more.items():
                batch.setdefault(tp, []).extend(messages)
                count += len(messages)
        return batch

    async def _route_or_rewind(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """Route a batch; if that fails, read it again (after a pause) instead of
        stopping the worker: nothing of it is committed."""
        try:
            await self._route(batch)
        except Exception as exc:
            _log.exception("routing failed; the batch is read again in 1 s")
            self.failure = f"{type(exc).__name__}: {exc}"
            owned = self.consumer.assignment()
            for tp, messages in batch.items():
                if tp in owned:
                    self.consumer.seek(tp, messages[0].offset)
            await asyncio.sleep(1)

    async def _route(self, batch: dict[TopicPartition, list[Any]]) -> None:
        events: list[tuple[Routable, str]] = []
        rejected: list[tuple[Any, str]] = []
        for tp, messages in batch.items():
            for message in messages:
                origin = f"{tp.topic}/{tp.partition}/{message.offset}"
                try:
                    events.append((decode_accepted(message.value, _ROUTED), origin))
                except FinopsError as exc:
                    rejected.append((message, str(exc)))
        report = Routed()
        # Recorded with the commit: the reach the batch is routed with (one that
        # changes meanwhile calls reach_changed, checked before the next batch).
        reach = self._known(self._reach())
        rejected += await self._forward(events, batch)
        await self._flush()
        for message, reason in rejected:  # before the offsets move past them
            await self._reject(message, reason)
            report.dead_lettered[message.topic] += 1
        now = datetime.now(UTC)
        dropped = {f"{m.topic}/{m.partition}/{m.offset}" for m, _ in rejected}
        for event, origin in events:
            if not dropped or origin not in dropped:  # most batches drop nothing
                report.routed[origin.rsplit("/", 2)[0]] += 1
                report.seconds.append((now - event.occurred_at).total_seconds())
        self._report(report)
        await self._commit(batch, reach)

    async def _forward(
        self,
        events: list[tuple[Routable, str]],
        batch: dict[TopicPartition, list[Any]],
    ) -> list[tuple[Any, str]]:
        """Route the events; if the batch is refused as bad input, one at a time, so
        only the events refused alone are returned (with the reason) for dead letters.
        A piece forwarded twice changes nothing (pieces are sets)."""
        try:
            await self._service.route_batch(events)
            return []
        except FinopsError:
            pass
        messages = {
            f"{tp.topic}/{tp.partition}/{m.offset}": m
            for tp, ms in batch.items()
            for m in ms
        }
        rejected = []
        for event, origin in events:
            try:
                await self._service.route_batch([(event, origin)])
            except FinopsError as exc:
                rejected.append((messages[origin], str(exc)))
        return rejected

    def reach_changed(self) -> None:
        """The graph's reach changed, or partitions moved here: usage routed with a
        reach that does not cover today's is routed again before the next batch."""
        self._check_reach = True

    async def _reroute_uncovered_usage(self) -> None:
        """Read again from their start the usage partitions last committed with a
        reach that does not cover the graph's now (usage arrived before the edges
        that weigh it over a window; decisions 0162, 0340). A piece routed again
        changes nothing."""
        self._check_reach = False
        if not self._group:
            return
        reach = self._known(self._reach())
        recorded = await committed_metadata(
            self._servers, self._group, security=self._security
        )
        again: dict[TopicPartition, int | None] = {}
        for tp in self.consumer.assignment():
            metadata = recorded.get(tp)
            if metadata is None or not _is_usage(tp):
                continue
            if not reach.covered_by(_routed_with(metadata, self._reaches)):
                _log.info(
                    "%s was routed with %s, which does not cover %s: routed again",
                    tp,
                    metadata or "no recorded window",
                    reach.digest,
                )
                await self.consumer.seek_to_beginning(tp)
                again[tp] = None
        if again:
            await self.resume_from(again, again=True)

    def _known(self, reach: Reach) -> Reach:
        """Keep the reach among the last few routed with here (a commit names them by
        digest only)."""
        if reach.digest not in self._reaches:
            self._reaches[reach.digest] = reach
            while len(self._reaches) > KNOWN_REACHES:
                del self._reaches[next(iter(self._reaches))]
        return reach

    async def _commit(
        self, batch: dict[TopicPartition, list[Any]], reach: Reach
    ) -> None:
        ends = {tp: messages[-1].offset + 1 for tp, messages in batch.items()}
        owned = self.consumer.assignment()
        routed = f"window={reach.days} reach={reach.digest}"
        ends = {
            tp: OffsetAndMetadata(offset, routed)
            for tp, offset in ends.items()
            if tp in owned
        }
        try:
            if ends:
                await self.consumer.commit(ends)
        except (CommitFailedError, IllegalStateError) as exc:
            # Moved to another worker meanwhile: it routes these events again from
            # its committed offset (a replayed piece changes nothing).
            _log.info("routed offsets not committed after a rebalance: %s", exc)
            return
        self._done.update({tp: meta.offset for tp, meta in ends.items()})
        self.progress_at, self.failure = time.monotonic(), ""

    async def resume_from(
        self, offsets: dict[TopicPartition, int | None], *, again: bool = False
    ) -> None:
        """Where routing of partitions starts: their offset (what the group
        committed), else, or when the log no longer reaches back there, the log's
        start (the consumer resets to the earliest). Lag counts from here until a
        partition's first commit: the consumer's position runs ahead, to the end of
        what it has fetched but not routed yet. Kept if a commit came meanwhile,
        unless routing starts `again`. One request for every partition's start
        (each takes a fetch cycle, ~0.5 s)."""
        starts = await self.consumer.beginning_offsets(list(offsets))
        for tp, offset in offsets.items():
            if again or tp not in self._done:
                start = starts[tp]
                self._done[tp] = start if offset is None else max(offset, start)

    async def lag(self) -> dict[str, int]:
        """Messages not yet routed on the partitions this worker reads, per topic."""
        lag = dict.fromkeys(self.consumer.subscription(), 0)
        owned = self.consumer.assignment()
        unknown = [tp for tp in owned if tp not in self._done]
        if unknown:  # nothing committed since they were assigned
            try:
                committed = {tp: await self.consumer.committed(tp) for tp in unknown}
                await self.resume_from(
                    {
                        tp: self._legacy.get(tp) if offset is None else offset
                        for tp, offset in committed.items()
                    }
                )
            except Exception:  # moved away meanwhile: counted at the next call
                pass
        for tp in owned:
            done = self._done.get(tp)
            if done is None:  # not known yet, or revoked meanwhile
                continue
            try:
                high = self.consumer.highwater(tp) or 0
            except (AssertionError, KafkaError):  # revoked meanwhile: not ours
                continue
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, high - done)
        return lag

    def forget(self, revoked: set[TopicPartition]) -> None:
        """Partitions another worker goes on with (see ConsumerRebalanceListener)."""
        for tp in revoked:
            self._done.pop(tp, None)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is Any to mypy
    def __init__(self, router: SourceRouter, legacy: dict[TopicPartition, int]):
        self._router, self._legacy = router, legacy

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._router.forget(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._router.reach_changed()
        consumer = self._router.consumer
        for tp in assigned:
            if tp in self._legacy and await consumer.committed(tp) is None:
                consumer.seek(tp, self._legacy[tp])


def _routed_with(metadata: str, known: dict[str, Reach]) -> Reach:
    """The reach a committed offset was routed with, as far as it is known: "" (before
    windows were recorded) copied nothing; "window=N" (before reaches) copied every
    row N dates; a reach not routed with in this process is taken to have copied
    nothing beyond a row's own date."""
    fields = dict(f.split("=", 1) for f in metadata.split() if "=" in f)
    if "window" not in fields:
        return NO_COPIES
    if "reach" not in fields:
        return Reach.every(int(fields["window"]))
    return known.get(fields["reach"], NO_COPIES)


def _is_usage(tp: TopicPartition) -> bool:
    return str(tp.topic).endswith(USAGE.name)
