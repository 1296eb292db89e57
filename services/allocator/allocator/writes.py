"""The write pipeline: recomputed dates to the store and the allocations topic.

A date's node rows are stored (and announced) first; its flows follow in the
background, and only the next write of that date waits for them
(docs/decisions/0009-node-rows-before-flows.md). A failed write makes its date
dirty again, to be written whole.
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
    """Writes a pass's dates as they are computed, up to WRITES_AT_ONCE at a time;
    a date's flows writes go on after its pass, one date's writes never overlap."""

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
        self._flows: dict[date, asyncio.Task[Failure]] = {}  # flows writes under way
        self._flow_waits: dict[date, Waits] = {}  # written, flows held back
        self.stopping = False

    async def run(self, days: Iterable[date], compute: Compute) -> None:
        """Compute the dates one after the other while the earlier ones are written;
        returns once their node rows are stored, raises the first failure (of these
        writes or of a flows write that ended meanwhile)."""
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
            failures += self._flows_failed()
        finally:
            self._writing = []
            for task in writes:  # the loop was cancelled or failed
                task.cancel()
        if failures:
            raise failures[0]

    def flows_writing(self) -> set[date]:
        """Dates whose flows write is still under way."""
        return {d for d, task in self._flows.items() if not task.done()}

    def retry(self, day: date, waits: Waits) -> None:
        """The date is dirty again, with every event waiting for its flows too."""
        self._retry(day, [*waits, *self._flow_waits.pop(day, [])])

    async def stop(self) -> None:
        """No more writes start; those under way finish."""
        self.stopping = True
        await self.quiesce()

    async def quiesce(self) -> None:
        """Wait for the writes under way (before partitions move, or to stop)."""
        under_way = [*self._writing, *self._flows.values()]
        if under_way:
            await asyncio.wait(under_way)

    async def _mark(self, mark: MarkJob) -> Failure:
        """Record a date's offsets; a failure makes the date dirty again."""
        if not await self._flows_written(mark.day):  # it records older offsets
            self.retry(mark.day, mark.waits)
            return None
        store = self._store.mark_day(
            mark.day, graph_version=mark.version, offsets=mark.offsets
        )
        return await self._attempt(mark.day, mark.waits, store)

    async def _write(self, job: WriteJob, slots: asyncio.Semaphore) -> Failure:
        """Store a date's node rows and announce them, then start writing its flows
        (a busy date's tens of thousands of flow rows do not hold its node rows or
        the next pass back); a failure makes the date dirty again."""
        delta = job.delta
        write = DayWrite(job.day, delta, uuid.uuid4(), job.version, job.offsets)
        try:
            if not await self._flows_written(job.day):
                self.retry(job.day, job.waits)
                return None
            step = self._store_results(
                write, mark=delta.settled and not delta.writes_flows
            )
            failure = await self._attempt(job.day, job.waits, step)
        finally:
            slots.release()
        if failure is not None:
            return failure
        seconds = time.perf_counter() - job.began
        self._observer.nodes_stored(delta, job.waits, seconds=seconds)
        self._follow_with_flows(write, job.waits)
        return None

    def _follow_with_flows(self, write: DayWrite, waits: Waits) -> None:
        """After a date's node rows: its flows, held back or written in the
        background (their waits wait with them)."""
        day, delta = write.day, write.delta
        if not delta.settled:  # flows held back: their waits wait for the next
            self._flow_waits.setdefault(day, []).extend(waits)
            return
        waits = self._flow_waits.pop(day, []) + waits
        if delta.writes_flows:
            self._flow_waits[day] = waits  # dirty again with the date on failure
            self._flows[day] = asyncio.create_task(self._write_flows(write, waits))
        else:
            self._observer.flows_stored(None, waits)

    async def _write_flows(self, write: DayWrite, waits: Waits) -> Failure:
        """Store a date's flows (its node rows are stored)."""
        failure = await self._attempt(write.day, [], self._store_flows(write))
        if failure is not None:
            return failure
        self._flow_waits.pop(write.day, None)
        self._observer.flows_stored(write.delta, waits)
        return None

    async def _flows_written(self, day: date) -> bool:
        """Wait for a date's flows write under way; False if it failed (the date is
        dirty again and computed whole: a delta computed meanwhile may be relative
        to the flows that were not stored, so it is not written)."""
        task = self._flows.get(day)
        if task is None:
            return True
        await asyncio.wait([task])
        return not task.cancelled() and task.result() is None

    def _flows_failed(self) -> list[BaseException]:
        """Failures of the flows writes that ended (their dates are dirty again)."""
        ended = [day for day, task in self._flows.items() if task.done()]
        failures = []
        for day in ended:
            task = self._flows.pop(day)
            failure = None if task.cancelled() else task.result()
            if failure is not None:
                failures.append(failure)
        return failures

    async def _store_results(self, write: DayWrite, *, mark: bool) -> None:
        began = time.perf_counter()
        await self._store.write_results(write, mark=mark)
        await self._announce(write)
        self._observer.store_took(time.perf_counter() - began)

    async def _store_flows(self, write: DayWrite) -> None:
        began = time.perf_counter()
        await self._store.write_flows(write)
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
