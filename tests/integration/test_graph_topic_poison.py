"""The graph topic on the real broker: a message that is not a graph change (not
JSON, a tombstone, another event type) is passed over with its reason, the changes
around it still apply, and the next `graph apply` builds on them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from finops.adapters.graphlog import follow_graph, publish_delta, read_graph
from finops.adapters.kafka_admin import ensure_topics
from finops.contracts.codec import encode_event
from finops.contracts.events import RowRejected
from finops.contracts.settings import KafkaSettings
from finops.contracts.topics import GRAPH, topic_name
from finops.domain.dag import EdgeSpec, GraphSpec, NodeSpec, NodeType
from finops.domain.graphdiff import diff_graphs

pytestmark = pytest.mark.integration


def _spec(*children: str) -> GraphSpec:
    nodes = [NodeSpec(id="root", type=NodeType.SHARED)] + [
        NodeSpec(id=c, type=NodeType.PRODUCT) for c in children
    ]
    edges = [EdgeSpec(from_="root", to=c, strategy="equal") for c in children]
    return GraphSpec(nodes=nodes, edges=edges)


async def _apply(kafka: KafkaSettings, spec: GraphSpec) -> int:
    """What `finops graph apply` does: read the topic, publish the difference."""
    log = await read_graph(kafka)
    change = await publish_delta(kafka, log, diff_graphs(log.spec, spec), spec)
    return change.version


async def test_a_poison_message_on_the_graph_topic_is_passed_over(
    kafka_settings: KafkaSettings,
) -> None:
    servers, ns = kafka_settings.bootstrap_servers, kafka_settings.topic_namespace
    await ensure_topics(servers, namespace=ns)
    first = await _apply(kafka_settings, _spec("a"))  # nodes, then edges: 2 versions
    producer = AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    try:
        topic = topic_name(GRAPH, ns)
        other = RowRejected(
            event_id=uuid.uuid4(), occurred_at=datetime.now(UTC), source="s", reason="r"
        )
        await producer.send_and_wait(topic, b"{not json", key=b"default")
        await producer.send_and_wait(topic, None, key=b"default")
        await producer.send_and_wait(topic, encode_event(other), key=b"default")
    finally:
        await producer.stop()

    last = await _apply(kafka_settings, _spec("a", "b"))  # failed: "not JSON"

    bad: list[tuple[int, str]] = []

    async def on_bad(message: Any, reason: str) -> None:
        bad.append((message.offset, reason))

    versions = [
        change.version
        async for change in follow_graph(kafka_settings, until_end=True, on_bad=on_bad)
        if change is not None
    ]
    assert versions == list(range(1, last + 1))
    assert [offset for offset, _ in bad] == [first, first + 1, first + 2]
    assert "not JSON" in bad[0][1]
    assert "tombstone" in bad[1][1]
    assert "unexpected event type 'row_rejected'" in bad[2][1]
    log = await read_graph(kafka_settings)
    assert log.version == last and {n.id for n in log.spec.nodes} == {"root", "a", "b"}
