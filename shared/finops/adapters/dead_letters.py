"""Dead letters: a consumed message that cannot be used goes to its topic's `.dlq`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from finops.contracts.codec import encode_event
from finops.contracts.events import MessageRejected
from finops.contracts.topics import TopicSpec, dead_letter_of, topic_name

__all__ = ["DeadLetters", "Producer", "Received"]

_log = logging.getLogger(__name__)
RAW_CHARS: Final = 2000  # of the refused value kept in the dead letter


class Received(Protocol):
    """What a consumed message offers (aiokafka's ConsumerRecord)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class Producer(Protocol):
    """aiokafka's producer, as far as dead letters need it."""

    async def send_and_wait(
        self, topic: str, value: bytes | None = None, key: bytes | None = None
    ) -> Any: ...


class DeadLetters:
    """Sends refused messages, with the reason, to the dead-letter topic of the topic
    they came from; `counted(topic)` is called for each (a service's metric)."""

    def __init__(
        self,
        producer: Producer,
        *,
        consumer: str,
        namespace: str = "",
        counted: Callable[[str], None] | None = None,
    ) -> None:
        self._producer, self._consumer = producer, consumer
        self._namespace, self._counted = namespace, counted

    async def send(self, spec: TopicSpec, message: Received, reason: str) -> None:
        """Dead-letter one message read from `spec`'s topic."""
        event = MessageRejected(
            event_id=uuid.uuid4(),
            occurred_at=datetime.now(UTC),
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            consumer=self._consumer,
            reason=reason,
            key=_text(message.key),
            raw=_text(message.value),
        )
        target = topic_name(dead_letter_of(spec), self._namespace)
        await self._producer.send_and_wait(target, encode_event(event), key=message.key)
        _log.warning(
            "dead letter: topic=%s partition=%s offset=%s reason=%s",
            message.topic,
            message.partition,
            message.offset,
            reason,
        )
        if self._counted is not None:
            self._counted(spec.name)


def _text(data: bytes | None) -> str | None:
    if data is None:
        return None
    return data[:RAW_CHARS].decode("utf-8", errors="replace")
