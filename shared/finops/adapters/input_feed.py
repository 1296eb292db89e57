"""Publishing cost and usage files as NodeCostsReported / UsageReported events."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from aiokafka import AIOKafkaProducer

from finops.contracts.codec import encode_event
from finops.contracts.dated_events import node_cost_events
from finops.contracts.dated_events import usage_events as day_usage_events
from finops.contracts.events import NodeCostsReported, UsageReported
from finops.contracts.settings import KafkaSettings
from finops.contracts.topics import NODE_COSTS, USAGE, topic_name
from finops.domain.allocation.tables import CostTable, UsageTable
from finops.domain.records import NodeCost, UsageRecord
from finops.formats.costfile import load_costs
from finops.formats.inputfiles import load_usage

__all__ = [
    "cost_events",
    "cost_records",
    "publish_events",
    "publish_files",
    "usage_events",
    "usage_records",
]

_EPOCH = date(1970, 1, 1)
_CHUNK = 1000  # rows per event, well under the broker's 1 MiB message limit
R = TypeVar("R", NodeCost, UsageRecord)


def cost_records(table: CostTable) -> list[NodeCost]:
    """Rows of a cost table as records."""
    return [
        NodeCost(
            node=table.node_ids[n],
            date=_EPOCH + timedelta(days=d),
            dimension=table.dimensions[k],
            amount_micros=m,
        )
        for n, d, k, m in zip(
            table.node.tolist(),
            table.day.tolist(),
            table.dimension.tolist(),
            table.micros.tolist(),
            strict=True,
        )
    ]


def usage_records(table: UsageTable) -> list[UsageRecord]:
    """Rows of a usage table as records."""
    return [
        UsageRecord(
            node=table.node_ids[n],
            date=_EPOCH + timedelta(days=d),
            metric=table.metrics[m],
            value=v,
            labels=table.label_sets[lab],
        )
        for n, d, m, v, lab in zip(
            table.node.tolist(),
            table.day.tolist(),
            table.metric.tolist(),
            table.value.tolist(),
            table.label.tolist(),
            strict=True,
        )
    ]


def cost_events(records: Iterable[NodeCost], *, source: str) -> list[NodeCostsReported]:
    """One event per day (chunked); each replaces what the source said that day."""
    days = _group_by_day(records)
    events = node_cost_events(
        source, days, days, chunk=_CHUNK, now=datetime.now(UTC), new_id=uuid.uuid4
    )
    return [event for _, event in events]


def usage_events(records: Iterable[UsageRecord], *, source: str) -> list[UsageReported]:
    """One event per day (chunked); each replaces the source's usage that day."""
    days = _group_by_day(records)
    events = day_usage_events(
        source, days, days, chunk=_CHUNK, now=datetime.now(UTC), new_id=uuid.uuid4
    )
    return [event for _, event in events]


def _group_by_day(records: Iterable[R]) -> dict[date, list[R]]:
    days: dict[date, list[R]] = defaultdict(list)
    for record in records:
        days[record.date].append(record)
    return days


async def publish_events(
    kafka: KafkaSettings, events: Iterable[NodeCostsReported | UsageReported]
) -> int:
    """Send events to their topic, keyed by their first charge date; returns a count."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_request_size=16 * 1024 * 1024,
        **kafka.client_options(),
    )
    await producer.start()
    count = 0
    try:
        for event in events:
            spec = NODE_COSTS if isinstance(event, NodeCostsReported) else USAGE
            rows = event.costs if isinstance(event, NodeCostsReported) else event.usage
            key = rows[0].date.isoformat().encode() if rows else None
            await producer.send(
                topic_name(spec, kafka.topic_namespace), encode_event(event), key=key
            )
            count += 1
        await producer.flush()
    finally:
        await producer.stop()
    return count


async def publish_files(
    kafka: KafkaSettings,
    *,
    costs: Path,
    usage: Path | None,
    known: Collection[str] | None,
    source: str = "files",
) -> int:
    """Publish a costs CSV and a usage CSV (the inputs of `finops allocate`)."""
    events: list[NodeCostsReported | UsageReported] = []
    if usage is not None:
        events += usage_events(usage_records(load_usage(usage, known)), source=source)
    events += cost_events(cost_records(load_costs(costs, known)), source=source)
    return await publish_events(kafka, events)
