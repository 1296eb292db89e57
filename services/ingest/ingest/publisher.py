"""Kafka side of ingest: node costs and usage keyed by charge date, dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import date
from typing import Final

from aiokafka import AIOKafkaProducer

from finops.contracts.codec import encode_event
from finops.contracts.events import Event, NodeCostsReported, RowRejected, UsageReported
from finops.contracts.topics import NODE_COSTS, USAGE, TopicSpec, topic_name

__all__ = ["KafkaPublisher"]

# Sends in flight before waiting for their acknowledgements.
_WINDOW: Final = 1000


class KafkaPublisher:
    """Sends events on the service's producer; returns once the broker has them all."""

    def __init__(self, producer: AIOKafkaProducer, *, namespace: str = "") -> None:
        self._producer = producer
        self._namespace = namespace

    async def node_costs(self, events: Iterable[tuple[date, NodeCostsReported]]) -> int:
        """Publish node-cost events keyed by charge date; returns how many."""
        return await self._send(NODE_COSTS, ((d.isoformat(), e) for d, e in events))

    async def usage(self, events: Iterable[tuple[date, UsageReported]]) -> int:
        """Publish usage events keyed by charge date; returns how many."""
        return await self._send(USAGE, ((d.isoformat(), e) for d, e in events))

    async def dead_letters(self, spec: TopicSpec, events: Iterable[RowRejected]) -> int:
        """Publish refused rows to a dead-letter topic, keyed by file."""
        return await self._send(spec, ((e.source, e) for e in events))

    async def _send(self, spec: TopicSpec, keyed: Iterable[tuple[str, Event]]) -> int:
        topic = topic_name(spec, self._namespace)
        pending: list[asyncio.Future[object]] = []
        count = 0
        for key, event in keyed:
            pending.append(
                await self._producer.send(topic, encode_event(event), key=key.encode())
            )
            count += 1
            if len(pending) >= _WINDOW:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return count
