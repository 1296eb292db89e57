"""Orchestration of the allocator: route inputs, fold them in, recompute dirty dates."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from allocator import metrics
from allocator.announce import result_messages
from allocator.daydelta import DayDelta, DayWrite
from allocator.inputs.days import DayInputs, Touched
from allocator.inputs.state import InputState
from allocator.liveday import Computed, LiveDays
from allocator.offsets import DayOffsets, InputOffset
from allocator.routing.pieces import forward_batch, max_window_days, partition_of
from finops.adapters.graphlog import GraphLog
from finops.contracts.events import (
    DayInputsRouted,
    GraphChanged,
    NodeCostsReported,
    UsageReported,
)
from finops.domain.dag import CostGraph, build_graph
from finops.errors import FinopsError

__all__ = [
    "AllocatorService",
    "DayComputer",
    "Publisher",
    "ResultStore",
    "pass_order",
]

_log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
Waits = list[tuple[datetime, int]]  # (ingest time, events) behind a dirty date
WRITES_AT_ONCE = 3  # dates being written while the next is computed


@dataclass(frozen=True)
class _Job:
    """A recomputed date on its way to the store."""

    day: date
    delta: DayDelta
    waits: Waits
    version: int
    offsets: DayOffsets | None
    began: float


@dataclass(frozen=True)
class _Mark:
    """A date whose stored rows already reflect its inputs: only its offsets change."""

    day: date
    waits: Waits
    version: int
    offsets: DayOffsets | None


class ResultStore(Protocol):
    """Where results go (PostgreSQL in production)."""

    async def write_results(self, write: DayWrite, *, mark: bool) -> None: ...

    async def write_flows(self, write: DayWrite) -> None: ...

    async def mark_day(
        self, day: date, *, graph_version: int, offsets: DayOffsets | None
    ) -> None: ...

    async def stored_days(self) -> dict[date, tuple[int, DayOffsets | None]]: ...

    async def write_nodes(self, spec: Any, version: int) -> None: ...


class DayComputer(Protocol):
    """Allocates dates and keeps what makes the next allocation of a date cheap
    (`LiveDays` in this process, `ComputeProcess` in another)."""

    def touch(self, day: date, touched: Touched) -> None: ...

    def take(self, day: date) -> Touched: ...

    def flows_due_in(self, now: float) -> float | None: ...

    def flows_behind(self) -> set[date]: ...

    def flows_due(self, now: float) -> set[date]: ...

    def forget(self, day: date) -> None: ...

    def clear(self) -> None: ...

    async def allocate(
        self,
        graph: CostGraph,
        day: date,
        inputs: DayInputs,
        touched: Touched,
        now: float,
    ) -> Computed: ...


class Publisher(Protocol):
    """Sends routed inputs and results (Kafka in production)."""

    async def forward(self, partition: int, piece: DayInputsRouted) -> None: ...

    async def publish(self, day: date, event: bytes) -> None:
        """An encoded AllocationComputed of a charge date."""


class AllocatorService:
    """Owns some charge-date partitions; keeps their results equal to a full run."""

    def __init__(
        self,
        state: InputState,
        store: ResultStore,
        publisher: Publisher,
        *,
        partitions: int,
        clock: Clock = lambda: datetime.now(UTC),
        snapshot_days: int = 32,
        engine_days: int = 8,
        flows_every_s: float = 0.0,
        computer: DayComputer | None = None,
    ) -> None:
        self.state, self._store, self._publisher = state, store, publisher
        self._partitions, self._clock = partitions, clock
        self.graph = GraphLog()
        self._cost_graph: CostGraph | None = None
        self._window = 1
        self.owned: set[int] = set()
        self.dirty: dict[date, Waits] = {}
        self.live: DayComputer = computer or LiveDays(
            engines=engine_days, frames=snapshot_days, flows_every_s=flows_every_s
        )
        self._flow_waits: dict[date, Waits] = {}  # written, flows held back
        # Dates without costs whose stored results are known to be empty: usage alone
        # allocates nothing, so they are not computed again until costs arrive.
        self._empty: set[date] = set()
        self._wake: asyncio.TimerHandle | None = None
        self._writing: list[asyncio.Task[BaseException | None]] = []  # this pass's
        # Flows writes under way, per date: a pass does not wait for them (a busy
        # date's tens of thousands of flow rows), only a later write of that date.
        self._flows: dict[date, asyncio.Task[BaseException | None]] = {}
        self._stopping = False
        self._check_stored = False
        self.changed = asyncio.Event()

    @property
    def window(self) -> int:
        """Days a usage row reaches (the graph's longest weighted_average window)."""
        return self._window

    def owns(self, day: date) -> bool:
        """Whether this worker owns the date's partition."""
        return partition_of(day, self._partitions) in self.owned

    async def route(self, event: NodeCostsReported | UsageReported, origin: str) -> int:
        """Forward one piece per charge date the event affects; returns how many."""
        return await self.route_batch([(event, origin)])

    async def route_batch(
        self, events: list[tuple[NodeCostsReported | UsageReported, str]]
    ) -> int:
        """Route events in order, merging pieces of one date and source; returns the
        number of pieces forwarded."""
        return await forward_batch(
            events,
            window_days=self._window,
            partitions=self._partitions,
            forward=self._publisher.forward,
        )

    def apply(self, piece: DayInputsRouted, *, partition: int, offset: int) -> None:
        """Fold a routed piece into the state; its date becomes dirty."""
        touched = self.state.apply(piece, InputOffset(partition, offset))
        self.live.touch(piece.charge_date, touched)
        waits = self.dirty.setdefault(piece.charge_date, [])
        times = piece.ingest_times()
        waits.extend(times.items())
        _observe_waits(metrics.INGEST_TO_APPLIED, self._clock(), times.items())
        self.changed.set()

    async def apply_graph(self, change: GraphChanged) -> None:
        """A new graph version: every owned date with inputs is recomputed."""
        if not self.graph.apply(change):
            return
        self._cost_graph = build_graph(self.graph.spec)
        self._window = max_window_days(self.graph.spec)
        await self._store.write_nodes(self.graph.spec, self.graph.version)
        for day in self.state.days:
            self.dirty.setdefault(day, [])
        self.changed.set()

    def assign(self, partitions: set[int]) -> None:
        """After a rebalance: rebuild the owned dates; stale ones are found next."""
        self.owned = set(partitions)
        self.state.rebuild(self.owns)
        self.live.clear()
        self._empty.clear()
        self.dirty = {d: w for d, w in self.dirty.items() if self.owns(d)}
        self._check_stored = True
        self.changed.set()

    def recheck(self) -> None:
        """After a failed pass: what is stored is compared with the state again."""
        self.live.clear()
        self._empty.clear()
        self._check_stored = True
        self.changed.set()

    async def _mark_stale(self) -> None:
        """Dates whose stored results miss inputs or the graph version become dirty."""
        stored = await self._store.stored_days()
        self._check_stored = False
        for day in self.state.days:
            if stored.get(day) != (self.graph.version, self._offsets(day)):
                self.dirty.setdefault(day, [])

    def _offsets(self, day: date) -> DayOffsets | None:
        return self.state.position(day)

    async def recompute_due(self) -> int:
        """Allocate and store every dirty date; returns how many were handled.

        Called by one task only. Dates are computed one after the other while the
        earlier ones are written, up to WRITES_AT_ONCE at a time; a date is in one
        pass once. A pass ends when its node rows are stored: flows writes go on
        into the next pass, whose write of the same date waits for them, so one
        date's writes never overlap. (Computing the next pass while the last node
        rows are written was measured: more, smaller passes cost more CPU in all,
        and latency at 2,000 events/s rose.)
        """
        if self._cost_graph is None or self._stopping:
            return 0
        self.changed.clear()
        if self._check_stored:
            await self._mark_stale()
        now = time.monotonic()
        if self.live.flows_due_in(now) == 0:
            for day in self.live.flows_behind():
                self.dirty.setdefault(day, [])
        days = pass_order(
            {d: w for d, w in self.dirty.items() if self.owns(d)},
            self.live.flows_due(now),
            later={d for d, task in self._flows.items() if not task.done()},
        )
        writes: list[asyncio.Task[BaseException | None]] = []
        self._writing = writes
        slots = asyncio.Semaphore(WRITES_AT_ONCE)
        try:
            for day in days:
                job = await self._compute(day)
                if self._stopping:  # its inputs are not marked stored: recomputed
                    break
                if isinstance(job, _Mark):  # a small write: it does not wait its turn
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
        self._wake_for_flows()
        took = time.monotonic() - now
        metrics.PASS_SECONDS.observe(took)
        _log.debug("pass: %d dates in %.2fs", len(days), took)
        return len(days)

    async def stop(self) -> None:
        """No more writes start; those under way finish."""
        self._stopping = True
        await self.quiesce()

    async def quiesce(self) -> None:
        """Wait for the writes under way (before partitions move, or to stop)."""
        under_way = [*self._writing, *self._flows.values()]
        if under_way:
            await asyncio.wait(under_way)

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

    def _wake_for_flows(self) -> None:
        """Come back when held-back flows are due, even if no input arrives."""
        if self._wake is not None:
            self._wake.cancel()
        due = self.live.flows_due_in(time.monotonic())
        if due is not None:
            loop = asyncio.get_running_loop()
            self._wake = loop.call_later(due + 0.01, self.changed.set)

    async def _compute(self, day: date) -> _Job | _Mark | None:
        """Allocate one date away from the event loop (a thread or another process),
        so the agents and /healthz keep answering."""
        graph, version = self._cost_graph, self.graph.version
        assert graph is not None
        waits = self.dirty.pop(day, None)
        if waits is None or not self.owns(day):  # moved away by a rebalance meanwhile
            return None
        began = time.perf_counter()
        inputs = self.state.days.get(day) or DayInputs()
        costless, offsets = not inputs.costs, self._offsets(day)
        if costless and day in self._empty:  # still nothing to allocate or store
            metrics.DAYS_STORED.labels("unchanged").inc()
            return _Mark(day, waits, version, offsets)
        touched = self.live.take(day)
        try:
            with metrics.ALLOCATE_SECONDS.time():
                computed = await self.live.allocate(
                    graph, day, inputs, touched, time.monotonic()
                )
        except FinopsError as exc:
            _log.error("charge date %s not allocated: %s", day, exc)
            metrics.DAYS_STORED.labels("error").inc()
            return None
        except BaseException:
            self._retry(day, waits)
            raise
        metrics.ROWS_SKIPPED.inc(computed.skipped)
        if computed.built:
            metrics.ENGINES_BUILT.labels(computed.built).inc()
        delta = computed.delta
        if costless and delta.settled and not (delta.nodes or delta.flows):
            self._empty.add(day)  # once stored (a failed write forgets it)
        job = _Job(day, computed.delta, waits, version, offsets, began)
        if computed.delta.is_empty:  # e.g. usage of a date without costs
            metrics.DAYS_STORED.labels("unchanged").inc()
            # Unsettled, its flows are behind: it is recomputed on a restart.
            return _Mark(day, waits, version, offsets) if delta.settled else None
        return job

    async def _mark(self, mark: _Mark) -> BaseException | None:
        """Record a date's offsets; a failure makes the date dirty again."""
        if not await self._flows_written(mark.day):  # it records older offsets
            self._retry(mark.day, mark.waits)
            return None
        store = self._store.mark_day(
            mark.day, graph_version=mark.version, offsets=mark.offsets
        )
        return await self._attempt(mark.day, mark.waits, store)

    async def _write(self, job: _Job, slots: asyncio.Semaphore) -> BaseException | None:
        """Store a date's node rows and announce them, then start writing its flows
        (a busy date's tens of thousands of flow rows do not hold its node rows or
        the next pass back); a failure makes the date dirty again."""
        delta = job.delta
        write = DayWrite(job.day, delta, uuid.uuid4(), job.version, job.offsets)
        try:
            if not await self._flows_written(job.day):
                self._retry(job.day, job.waits)
                return None
            step = self._store_results(
                write, mark=delta.settled and not delta.writes_flows
            )
            failure = await self._attempt(job.day, job.waits, step)
        finally:
            slots.release()
        if failure is not None:
            return failure
        self._observe(job)
        if not delta.settled:  # flows held back: their waits wait for the next
            self._flow_waits.setdefault(job.day, []).extend(job.waits)
            return None
        waits = self._flow_waits.pop(job.day, []) + job.waits
        if delta.writes_flows:
            self._flow_waits[job.day] = waits  # dirty again with the date on failure
            flows = self._write_flows(write, waits)
            self._flows[job.day] = asyncio.create_task(flows)
        else:
            _observe_waits(metrics.INGEST_TO_FLOWS_STORED, self._clock(), waits)
        return None

    async def _write_flows(self, write: DayWrite, waits: Waits) -> BaseException | None:
        """Store a date's flows (its node rows are stored)."""
        failure = await self._attempt(write.day, [], self._store_flows(write))
        if failure is not None:
            return failure
        self._flow_waits.pop(write.day, None)
        delta = write.delta
        metrics.ROWS_WRITTEN.labels("flows").inc(
            len(delta.flows) + len(delta.flows_removed)
        )
        _observe_waits(metrics.INGEST_TO_FLOWS_STORED, self._clock(), waits)
        return None

    async def _store_results(self, write: DayWrite, *, mark: bool) -> None:
        began = time.perf_counter()
        await self._store.write_results(write, mark=mark)
        await self._announce(write)
        metrics.STORE_SECONDS.observe(time.perf_counter() - began)

    async def _store_flows(self, write: DayWrite) -> None:
        began = time.perf_counter()
        await self._store.write_flows(write)
        metrics.STORE_SECONDS.observe(time.perf_counter() - began)

    async def _attempt(
        self, day: date, waits: Waits, step: Awaitable[None]
    ) -> BaseException | None:
        """Await a write; if it fails, the date is dirty again and the failure is
        returned (recompute_due raises it once the pass's other writes are done)."""
        try:
            await step
        except Exception as exc:
            self._retry(day, waits)
            return exc
        except BaseException:
            self._retry(day, waits)
            raise
        return None

    def _retry(self, day: date, waits: Waits) -> None:
        """The date's stored rows are unknown: dirty again, written whole."""
        self.live.forget(day)
        self._empty.discard(day)
        self.dirty.setdefault(day, []).extend(waits)
        self.dirty[day].extend(self._flow_waits.pop(day, []))
        self.changed.set()

    def _observe(self, job: _Job) -> None:
        """A date's node rows are stored."""
        metrics.RECOMPUTE_SECONDS.observe(time.perf_counter() - job.began)
        metrics.DAYS_STORED.labels("stored").inc()
        delta = job.delta
        metrics.ROWS_WRITTEN.labels("nodes").inc(
            len(delta.nodes) + len(delta.nodes_removed)
        )
        _observe_waits(metrics.INGEST_TO_STORED, self._clock(), job.waits)

    async def _announce(self, write: DayWrite) -> None:
        """AllocationComputed events of the rows that changed, per dimension."""
        marks = write.offsets.to_marks() if write.offsets else {}
        for event in result_messages(
            write.day,
            write.delta,
            run_id=write.run_id,
            graph_version=write.graph_version,
            offsets=marks,
            now=self._clock(),
        ):
            await self._publisher.publish(write.day, event)


def pass_order(
    dirty: dict[date, Waits], heavy: set[date], later: Collection[date] = ()
) -> list[date]:
    """The order to compute dirty dates in: heavy writes (dates whose held-back flows
    are due) first, so they overlap the computing of the rest; dates `later` (whose
    flows are still being written) last, so the others need not wait for them; in
    between, the dates most events wait for, so fewer wait long; then by date."""

    def key(day: date) -> tuple[bool, bool, int, date]:
        return day not in heavy, day in later, -sum(n for _, n in dirty[day]), day

    return sorted(dirty, key=key)


def _observe_waits(
    histogram: Any, now: datetime, waits: Iterable[tuple[datetime, int]]
) -> None:
    """One observation per source event behind the stored rows."""
    for ingested, events in waits:
        seconds = (now - ingested).total_seconds()
        for _ in range(events):
            histogram.observe(seconds)
