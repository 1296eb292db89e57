"""The outbox: what a delivery publishes is written in its transaction, then sent.

`Outbox.flush()` sends every pending entry in order and marks it sent, one flush at
a time across processes (a PostgreSQL advisory lock), so two flushes never publish a
source key's dates out of order. A flush that fails (the broker is away) leaves the
entries pending; `run()` flushes after each delivery and every `every_s` seconds, and
once at start (what a crash left behind).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Literal
from uuid import UUID

__all__ = ["BATCH", "Entry", "Outbox", "OutboxKind", "Send"]

_log = logging.getLogger(__name__)
OutboxKind = Literal["cost", "usage", "rejects"]
BATCH: Final = 100  # entries per flush transaction


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing to publish: a source key's dates (cost, usage) or a run's rejects."""

    kind: OutboxKind
    ingest_id: UUID
    source_key: str | None = None
    dates: frozenset[date] = field(default_factory=frozenset)
    entry_id: int = 0  # given by the store


Send = Callable[[Entry], Awaitable[None]]
Pending = Callable[[Send], Awaitable[int]]


class Outbox:
    """Flushes pending entries through `send`; `pending(send)` is the store's locked
    read-send-mark loop and returns how many entries it sent."""

    def __init__(self, pending: Pending, send: Send, *, every_s: float = 5.0) -> None:
        self._pending, self._send, self._every_s = pending, send, every_s
        self.wake = asyncio.Event()
        self.failure = ""  # why the last flush failed ("" once one worked)

    async def flush(self) -> int:
        """Send what is pending; returns how many entries were sent."""
        total = 0
        while sent := await self._pending(self._send):
            total += sent
        return total

    async def run(self) -> None:
        """Flush at start, when woken, and every every_s; failures are retried."""
        while True:
            try:
                await self.flush()
                self.failure = ""
            except Exception as exc:  # the broker or database is away: retried
                self.failure = f"{type(exc).__name__}: {exc}"
                _log.warning("outbox not sent (%s); retrying", self.failure)
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self._every_s)
