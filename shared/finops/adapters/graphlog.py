"""The graph topic: replayed from its start to rebuild the graph; `apply_graph` (used
by `finops graph apply` and the api's `POST /v1/graph`) adds what changed."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from finops.adapters.kafka_admin import ensure_topics
from finops.contracts.codec import decode_accepted, encode_event
from finops.contracts.events import GraphChanged
from finops.contracts.settings import KafkaSettings
from finops.contracts.topics import GRAPH, topic_name
from finops.domain.dag import GraphSpec, build_graph
from finops.domain.graphdiff import GraphDelta, apply_change, diff_graphs, graph_digest
from finops.domain.rules import check_graph_rules
from finops.errors import FinopsError

__all__ = [
    "BadGraphMessage",
    "GraphLog",
    "apply_graph",
    "check_graph",
    "describe_delta",
    "follow_graph",
    "publish_delta",
    "read_graph",
]

_log = logging.getLogger(__name__)
# Told of a message of the graph topic that is not a graph change, with the reason.
BadGraphMessage = Callable[[Any, str], Awaitable[None]]


async def _skip(message: Any, reason: str) -> None:
    _log.warning(
        "graph topic offset %s is not a graph change, skipped: %s",
        message.offset,
        reason,
    )


@dataclass
class GraphLog:
    """The graph as the topic states it so far."""

    graph_id: str = "default"
    spec: GraphSpec = field(default_factory=GraphSpec)
    version: int = 0

    def apply(self, change: GraphChanged) -> bool:
        """Fold one change in; False when it is not newer than what we hold."""
        spec = self.next_spec(change)
        if spec is None:
            return False
        self.accept(change, spec)
        return True

    def next_spec(self, change: GraphChanged) -> GraphSpec | None:
        """The graph after `change`, without taking it in; None when the change is
        not newer than what we hold."""
        if change.graph_id != self.graph_id or change.version <= self.version:
            return None
        return apply_change(self.spec, change)

    def accept(self, change: GraphChanged, spec: GraphSpec) -> None:
        """Take in `change`, whose resulting graph (next_spec) is `spec`."""
        self.spec, self.version = spec, change.version


def _consumer(kafka: KafkaSettings) -> tuple[AIOKafkaConsumer, TopicPartition]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        enable_auto_commit=False,
        client_id=f"{kafka.client_id}-graph-reader",
        **kafka.client_options(),
    )
    return consumer, TopicPartition(topic_name(GRAPH, kafka.topic_namespace), 0)


async def follow_graph(
    kafka: KafkaSettings,
    *,
    until_end: bool = False,
    on_bad: BadGraphMessage = _skip,
) -> AsyncIterator[GraphChanged | None]:
    """Every change from the start; None once caught up with the end (then, if not
    `until_end`, changes as they come). A message that is not a graph change goes
    to `on_bad` (by default logged) and the rest is read on."""
    consumer, tp = _consumer(kafka)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        caught_up = end == 0
        if caught_up:
            yield None
            if until_end:
                return
        while True:
            batch = await consumer.getmany(tp, timeout_ms=500)
            for message in batch.get(tp, []):
                try:
                    event = decode_accepted(message.value, (GraphChanged,))
                except FinopsError as exc:
                    await on_bad(message, str(exc))
                    continue
                yield event
            if not caught_up and await consumer.position(tp) >= end:
                caught_up = True
                yield None
                if until_end:
                    return
    finally:
        await consumer.stop()


async def read_graph(kafka: KafkaSettings, graph_id: str = "default") -> GraphLog:
    """The graph rebuilt from the whole topic."""
    log = GraphLog(graph_id)
    async for change in follow_graph(kafka, until_end=True):
        if change is not None:
            log.apply(change)
    return log


_NODES_PER_CHANGE = 4000  # keeps each message well under the broker's 1 MiB limit
_EDGES_PER_CHANGE = 1500


def _chunks(delta: GraphDelta) -> list[GraphDelta]:
    """The delta in parts small enough for one message each: nodes first, then edges."""
    parts = [
        GraphDelta(nodes_upserted=delta.nodes_upserted[i : i + _NODES_PER_CHANGE])
        for i in range(0, len(delta.nodes_upserted), _NODES_PER_CHANGE)
    ]
    parts += [
        GraphDelta(edges_removed=delta.edges_removed[i : i + _EDGES_PER_CHANGE])
        for i in range(0, len(delta.edges_removed), _EDGES_PER_CHANGE)
    ]
    parts += [
        GraphDelta(edges_upserted=delta.edges_upserted[i : i + _EDGES_PER_CHANGE])
        for i in range(0, len(delta.edges_upserted), _EDGES_PER_CHANGE)
    ]
    if delta.nodes_removed:
        parts.append(GraphDelta(nodes_removed=delta.nodes_removed))
    return parts


async def publish_delta(
    kafka: KafkaSettings, log: GraphLog, delta: GraphDelta, new: GraphSpec
) -> GraphChanged:
    """Append the delta as the next version(s), one message per part; returns the last.

    A large delta becomes several consecutive versions; the last one equals `new`.
    """
    changes, spec, version = [], log.spec, log.version
    for part in _chunks(delta):
        version += 1
        change = GraphChanged(
            event_id=uuid.uuid4(),
            occurred_at=datetime.now(UTC),
            graph_id=log.graph_id,
            version=version,
            digest="",
            nodes_upserted=part.nodes_upserted,
            nodes_removed=part.nodes_removed,
            edges_upserted=part.edges_upserted,
            edges_removed=part.edges_removed,
        )
        spec = apply_change(spec, change)
        changes.append(change.model_copy(update={"digest": graph_digest(spec)}))
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        **kafka.client_options(),
    )
    await producer.start()
    try:
        topic = topic_name(GRAPH, kafka.topic_namespace)
        for change in changes:
            await producer.send_and_wait(
                topic, encode_event(change), key=log.graph_id.encode()
            )
    finally:
        await producer.stop()
    return changes[-1]


def check_graph(spec: GraphSpec) -> GraphSpec:
    """The graph if it is one `finops allocate` accepts (GraphError naming the node,
    edge or parameter otherwise)."""
    check_graph_rules(build_graph(spec))
    return spec


async def apply_graph(
    kafka: KafkaSettings, spec: GraphSpec, *, dry_run: bool = False
) -> tuple[int, GraphDelta]:
    """Publish what `spec` changes against the graph on the topic: the version it
    is now at and the delta (empty: nothing published). `dry_run`: only the delta
    and the current version; nothing is published. `spec` must be checked."""
    await ensure_topics(
        kafka.bootstrap_servers,
        namespace=kafka.topic_namespace,
        security=kafka.client_options(),
    )
    log = await read_graph(kafka)
    delta = diff_graphs(log.spec, spec)
    if delta.is_empty or dry_run:
        return log.version, delta
    change = await publish_delta(kafka, log, delta, spec)
    return change.version, delta


def describe_delta(delta: GraphDelta) -> dict[str, int]:
    """The delta's counts: nodes and edges upserted and removed."""
    return {
        "nodes_upserted": len(delta.nodes_upserted),
        "nodes_removed": len(delta.nodes_removed),
        "edges_upserted": len(delta.edges_upserted),
        "edges_removed": len(delta.edges_removed),
    }
