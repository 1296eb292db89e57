"""Topics consumed in a group: decode, handle, commit; a message that cannot be used
goes to the dead-letter topic and the consumer goes on.

- A message that is not an event of an accepted type (not JSON, a tombstone, another
  type), or whose handler raises a `FinopsError` (bad input), is dead-lettered with the
  reason and committed: one bad message never stops a partition.
- Any other exception (the database or the broker failed) is retried from the same
  message after `retry_s`; the offset is committed only after the handler returned.
- `health()` says what `/healthz` should: the loop died, the handler has been failing
  for `stall_s`, or a partition lags while nothing advanced for `stall_s`. A loop
  that dies also stops the service (`http_runtime.watch_task`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from finops.adapters.dead_letters import DeadLetters
from finops.adapters.http_runtime import watch_task
from finops.contracts.codec import decode_accepted
from finops.contracts.events import Event
from finops.contracts.settings import KafkaSettings
from finops.contracts.topics import TopicSpec, topic_name
from finops.errors import FinopsError

__all__ = ["ConsumerHealth", "GroupConsumer", "Handler"]

_log = logging.getLogger(__name__)
Handler = Callable[[Event, ConsumerRecord[bytes, bytes]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ConsumerHealth:
    """Whether the consumer works, and if not why."""

    ok: bool
    reason: str = ""


class GroupConsumer:
    """Consumes `specs` in group `group_id`, one message at a time per partition."""

    def __init__(
        self,
        specs: Sequence[TopicSpec],
        handler: Handler,
        dead_letters: DeadLetters,
        *,
        kafka: KafkaSettings,
        group_id: str,
        accepts: tuple[type[Any], ...],
        retry_s: float = 1.0,
        stall_s: float = 60.0,
    ) -> None:
        self._specs = {topic_name(s, kafka.topic_namespace): s for s in specs}
        self._handler, self._dead = handler, dead_letters
        self._accepts, self._retry_s, self._stall_s = accepts, retry_s, stall_s
        self._consumer = AIOKafkaConsumer(
            *self._specs,
            bootstrap_servers=kafka.bootstrap_servers,
            group_id=group_id,
            client_id=f"{kafka.client_id}-{group_id}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **kafka.client_options(),
        )
        self._task: asyncio.Task[None] | None = None
        self._progress_at = time.monotonic()
        self._failing_since: float | None = None
        self._failure = ""
        # Next offset to handle, per partition read from.
        self._positions: dict[TopicPartition, int] = {}
        self.handled = 0
        self.dead_lettered = 0

    async def start(self) -> None:
        """Join the group and start consuming in the background."""
        await self._consumer.start()
        self._progress_at = time.monotonic()
        self._task = asyncio.create_task(self._run(), name="group-consumer")
        # Dead, it would leave the service idle yet up: the service stops instead.
        watch_task(self._task, f"the consumer of {', '.join(self._specs)}")

    async def stop(self) -> None:
        """Stop consuming; what was handled is committed."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    def health(self) -> ConsumerHealth:
        """What /healthz reports for this consumer."""
        now = time.monotonic()
        if self._task is not None and self._task.done():
            return ConsumerHealth(False, f"consumer stopped: {self._died()}")
        if (
            self._failing_since is not None
            and now - self._failing_since > self._stall_s
        ):
            return ConsumerHealth(False, f"handler failing: {self._failure}")
        if self.lag() > 0 and now - self._progress_at > self._stall_s:
            return ConsumerHealth(False, f"no progress for {self._stall_s:.0f} s")
        return ConsumerHealth(True)

    def lag(self) -> int:
        """Messages fetched or known to the broker but not handled yet, on the
        partitions this consumer owns (those it has read from)."""
        total = 0
        for tp in self._consumer.assignment():
            end, position = self._consumer.highwater(tp), self._positions.get(tp)
            if end is not None and position is not None:
                total += max(end - position, 0)
        return total

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=500)
            if not batches:
                self._progress_at = time.monotonic()
            for partition, messages in batches.items():
                await self._take(partition, messages)

    async def _take(
        self, partition: TopicPartition, messages: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        """Handle messages in order, then commit; a failure is retried later."""
        done = None
        self._positions.setdefault(partition, messages[0].offset)
        for message in messages:
            if not await self._attempt(message):
                self._consumer.seek(partition, message.offset)
                break
            done = message.offset + 1
        if done is not None:
            await self._consumer.commit({partition: done})
            self._positions[partition] = done
            self._progress_at = time.monotonic()

    async def _attempt(self, message: ConsumerRecord[bytes, bytes]) -> bool:
        """Handle or dead-letter one message; False when it must be retried."""
        try:
            await self._handle(message)
        except Exception as exc:  # the store or broker failed: not the message
            _log.exception(
                "topic=%s partition=%s offset=%s failed; retried in %.1f s",
                message.topic,
                message.partition,
                message.offset,
                self._retry_s,
            )
            self._failing_since = self._failing_since or time.monotonic()
            self._failure = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(self._retry_s)
            return False
        self._failing_since, self._failure = None, ""
        return True

    async def _handle(self, message: ConsumerRecord[bytes, bytes]) -> None:
        spec = self._specs[message.topic]
        try:
            event: Event = decode_accepted(message.value, self._accepts)
            await self._handler(event, message)
        except FinopsError as exc:
            self.dead_lettered += 1
            await self._dead.send(spec, message, str(exc))
            return
        self.handled += 1

    def _died(self) -> str:
        assert self._task is not None
        if self._task.cancelled():
            return "cancelled"
        exc: BaseException | None = self._task.exception()
        return f"{type(exc).__name__}: {exc}" if exc else "ended"
