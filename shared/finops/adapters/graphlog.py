"""The graph topic: replayed from its start to rebuild the graph; `graph apply` adds."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from finops.codec import decode_event, encode_event
from finops.dag import GraphSpec
from finops.events import GraphChanged
from finops.graphdiff import GraphDelta, apply_change, graph_digest
from finops.settings import KafkaSettings
from finops.topics import GRAPH, topic_name

__all__ = ["GraphLog", "follow_graph", "publish_delta", "read_graph"]


@dataclass
class GraphLog:
    """The graph as the topic states it so far."""

    graph_id: str = "default"
    spec: GraphSpec = field(default_factory=GraphSpec)
    version: int = 0

    def apply(self, change: GraphChanged) -> bool:
        """Fold one change in; False when it is not newer than what we hold."""
        if change.graph_id != self.graph_id or change.version <= self.version:
            return False
        self.spec = apply_change(self.spec, change)
        self.version = change.version
        return True


def _consumer(kafka: KafkaSettings) -> tuple[AIOKafkaConsumer, TopicPartition]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        enable_auto_commit=False,
        client_id=f"{kafka.client_id}-graph-reader",
    )
    return consumer, TopicPartition(topic_name(GRAPH, kafka.topic_namespace), 0)


async def follow_graph(
    kafka: KafkaSettings, *, until_end: bool = False
) -> AsyncIterator[GraphChanged | None]:
    """Every change from the start; None once caught up with the end (then, if not
    `until_end`, changes as they come)."""
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
                event = decode_event(message.value)
                if isinstance(event, GraphChanged):
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


async def publish_delta(
    kafka: KafkaSettings, log: GraphLog, delta: GraphDelta, new: GraphSpec
) -> GraphChanged:
    """Append one change (version + 1) to the graph topic and wait for the broker."""
    change = GraphChanged(
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        graph_id=log.graph_id,
        version=log.version + 1,
        digest=graph_digest(new),
        nodes_upserted=delta.nodes_upserted,
        nodes_removed=delta.nodes_removed,
        edges_upserted=delta.edges_upserted,
        edges_removed=delta.edges_removed,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        await producer.send_and_wait(
            topic_name(GRAPH, kafka.topic_namespace),
            encode_event(change),
            key=log.graph_id.encode(),
        )
    finally:
        await producer.stop()
    return change
