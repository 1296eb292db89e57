"""The write pipeline: recomputed dates to the store and the allocations topic.

A date's node rows and the shares its flows are derived from are stored in one
transaction, then announced (docs/decisions/0240-flows-derived-in-sql.md; no flows
are written). A failed write makes its date dirty again, to be written whole.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from allocator.announcements import result_messages
from allocator.observer import MetricsObserver
from allocator.offsets import DayOffsets
from allocator.pgcopy.delta import EncodedDelta
from allocator.ports import DayWrite, Publisher, ResultStore
from allocator.scheduler import Waits

__all__ = ["WRITES_AT_ONCE", "MarkJob", "WriteJob", "WritePipeline"]

WRITES_AT_ONCE = 3  # dates being written while the next is computed
Clock = Callable[[], datetime]
Failure = BaseException | None  # what a write task returns: its failure, if any


@dataclass(frozen=True)
class WriteJob:
    """A recomputed date on its way to the store."""

    day: date
    delta: EncodedDelta
    waits: Waits
    version: int
    offsets: DayOffsets | None
    began: float  # perf_counter() when its recompute began


@dataclass(frozen=True)
class MarkJob:
    """A date whose stored rows already reflect its inputs: only its offsets change."""

    day: date
    waits: Waits
    version: int
    offsets: DayOffsets | None


Compute = Callable[[date], Awaitable[WriteJob | MarkJob | None]]


class WritePipeline:
    """Writes a pass's dates as they are computed, up to WRITES_AT_ONCE at a time
    (a date is in a pass once: one date's writes never overlap)."""

    def __init__(
        self,
        store: ResultStore,
        publisher: Publisher,
        observer: MetricsObserver,
        *,
        clock: Clock,
        retry: Callable[[date, Waits], None],
    ) -> None:
        self._store, self._publisher = store, publisher
        self._observer, self._clock = observer, clock
        self._retry = retry  # the date's stored rows are unknown: compute it again
        self._writing: list[asyncio.Task[Failure]] = []  # this pass's
        self.stopping = False

    async def run(self, days: Iterable[date], compute: Compute) -> None:
        """Compute the dates one after the other while the earlier ones are written;
        returns once they are stored, raises the first failure."""
        writes: list[asyncio.Task[Failure]] = []
        self._writing = writes
        slots = asyncio.Semaphore(WRITES_AT_ONCE)
        try:
            for day in days:
                job = await compute(day)
                if self.stopping:  # its inputs are not marked stored: recomputed
                    break
                if isinstance(job, MarkJob):  # a small write: it does not wait its turn
                    writes.append(asyncio.create_task(self._mark(job)))
                elif job is not None:
                    await slots.acquire()
                    writes.append(asyncio.create_task(self._write(job, slots)))
            failures = [f for f in await asyncio.gather(*writes) if f is not None]
        finally:
            self._writing = []
            for task in writes:  # the loop was cancelled or failed
                task.cancel()
        if failures:
            raise failures[0]

    def retry(self, day: date, waits: Waits) -> None:
        """The date is dirty again, with its events."""
        self._retry(day, waits)

    async def stop(self) -> None:
        """No more writes start; those under way finish."""
        self.stopping = True
        await self.quiesce()

    async def quiesce(self) -> None:
        """Wait for the writes under way (before partitions move, or to stop)."""
        under_way = self._writing
        if under_way:
            await asyncio.wait(under_way)

    async def _mark(self, mark: MarkJob) -> Failure:
        """Record a date's offsets; a failure makes the date dirty again."""
        store = self._store.mark_day(
            mark.day, graph_version=mark.version, offsets=mark.offsets
        )
        return await self._attempt(mark.day, mark.waits, store)

    async def _write(self, job: WriteJob, slots: asyncio.Semaphore) -> Failure:
        """Store a date's node rows and shares and announce them; readers see its
        new flows once the transaction commits. A failure makes the date dirty
        again."""
        delta = job.delta
        write = DayWrite(job.day, delta, uuid.uuid4(), job.version, job.offsets)
        try:
            stored = self._store_results(write, job.waits)
            failure = await self._attempt(job.day, job.waits, stored)
        finally:
            slots.release()
        if failure is not None:
            return failure
        seconds = time.perf_counter() - job.began
        self._observer.nodes_stored(delta, job.waits, seconds=seconds)
        return None

    async def _store_results(self, write: DayWrite, waits: Waits) -> None:
        began = time.perf_counter()
        await self._store.write_results(write)
        self._observer.flows_stored(write.delta, waits)  # committed: readers see them
        await self._announce(write)
        self._observer.store_took(time.perf_counter() - began)

    async def _attempt(self, day: date, waits: Waits, step: Awaitable[None]) -> Failure:
        """Await a write; if it fails, the date is dirty again and the failure is
        returned (run raises it once the pass's other writes are done)."""
        try:
            await step
        except Exception as exc:
            self.retry(day, waits)
            return exc
        except BaseException:
            self.retry(day, waits)
            raise
        return None

    async def _announce(self, write: DayWrite) -> None:
        """AllocationComputed events of the rows that changed, per dimension."""
        for event in result_messages(
            write.day,
            write.delta,
            run_id=write.run_id,
            graph_version=write.graph_version,
            offsets=write.offsets.to_marks() if write.offsets else {},
            now=self._clock(),
        ):
            await self._publisher.publish(write.day, event)
