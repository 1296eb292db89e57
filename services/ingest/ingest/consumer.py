"""The cost-lines topic, consumed in a group (finops.adapters.group_consumer): each
CostLinesNormalized to the handler, what cannot be used to the dead-letter topic."""

from __future__ import annotations

import logging

from aiokafka import ConsumerRecord

from finops.adapters.dead_letters import DeadLetters
from finops.adapters.group_consumer import GroupConsumer
from finops.contracts.events import CostLinesNormalized, Event
from finops.contracts.settings import KafkaSettings
from finops.contracts.topics import COST_LINES
from ingest.metrics import EVENTS
from ingest.topiclines import CostLinesHandler

__all__ = ["cost_lines_consumer"]

_log = logging.getLogger(__name__)


def cost_lines_consumer(
    handler: CostLinesHandler,
    dead_letters: DeadLetters,
    *,
    kafka: KafkaSettings,
    group_id: str,
    stall_s: float,
) -> GroupConsumer:
    """The consumer feeding `handler`; a batch it refuses (FinopsError) is a dead
    letter, a failing store is retried from the same message."""

    async def handle(event: Event, message: ConsumerRecord[bytes, bytes]) -> None:
        assert isinstance(event, CostLinesNormalized)  # the consumer accepts no other
        result = await handler.handle(event, topic=message.topic)
        outcome = "duplicate" if result.duplicate else result.status
        EVENTS.labels(COST_LINES.name, outcome).inc()
        _log.info(
            "topic=%s offset=%s ingest_id=%s %s",
            message.topic,
            message.offset,
            result.ingest_id,
            outcome,
        )

    return GroupConsumer(
        [COST_LINES],
        handle,
        dead_letters,
        kafka=kafka,
        group_id=group_id,
        accepts=(CostLinesNormalized,),
        stall_s=stall_s,
    )
