"""The cost-lines topic, consumed in a group; offsets committed after handling."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from finops.contracts.codec import decode_event
from finops.contracts.events import CostLinesNormalized, RowRejected
from finops.contracts.topics import COST_LINES, dead_letter_of
from finops.errors import FinopsError
from ingest.metrics import EVENTS
from ingest.ports import Publisher
from ingest.topiclines import CostLinesHandler

__all__ = ["CostLinesConsumer"]

_log = logging.getLogger(__name__)
_RETRY_S = 1.0


class CostLinesConsumer:
    """Feeds each CostLinesNormalized to the handler; bad messages to dead letters."""

    def __init__(
        self,
        handler: CostLinesHandler,
        publisher: Publisher,
        *,
        bootstrap_servers: str,
        topic: str,
        group_id: str,
    ) -> None:
        self._handler = handler
        self._publisher = publisher
        self._topic = topic
        self._consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="cost-lines-consumer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=1000)
            for partition, messages in batches.items():
                await self._take(partition, messages)

    async def _take(
        self, partition: TopicPartition, messages: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        """Handle messages in order; commit after each. A failure is retried later."""
        for message in messages:
            try:
                await self._handle(message)
            except Exception:  # the store or broker failed: retry from this message
                _log.exception("topic=%s offset=%s failed", self._topic, message.offset)
                self._consumer.seek(partition, message.offset)
                await asyncio.sleep(_RETRY_S)
                return
            await self._consumer.commit({partition: message.offset + 1})

    async def _handle(self, message: ConsumerRecord[bytes, bytes]) -> None:
        """Handle one message; an unreadable one goes to the dead-letter topic."""
        try:
            event = decode_event(message.value or b"")
            if not isinstance(event, CostLinesNormalized):
                raise FinopsError(f"expected cost_lines_normalized, got {event.type}")
            result = await self._handler.handle(event, topic=self._topic)
        except FinopsError as exc:
            EVENTS.labels(COST_LINES.name, "dead_letter").inc()
            await self._dead_letter(message, str(exc))
            return
        outcome = "duplicate" if result.duplicate else result.status
        EVENTS.labels(COST_LINES.name, outcome).inc()
        _log.info(
            "topic=%s offset=%s ingest_id=%s %s",
            self._topic,
            message.offset,
            result.ingest_id,
            outcome,
        )

    async def _dead_letter(
        self, message: ConsumerRecord[bytes, bytes], reason: str
    ) -> None:
        raw = (message.value or b"")[:2000].decode("utf-8", errors="replace")
        event = RowRejected(
            event_id=uuid.uuid4(),
            occurred_at=datetime.now(UTC),
            source=f"{self._topic}@{message.partition}:{message.offset}",
            reason=reason,
            raw=raw,
        )
        await self._publisher.dead_letters(dead_letter_of(COST_LINES), [event])
