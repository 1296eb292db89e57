"""Orchestration of the allocator: route inputs, fold them in, recompute dirty dates."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from allocator.compute.group import Item, group_run
from allocator.compute.livedays import Computed, LiveDays
from allocator.inputs.days import DayInputs
from allocator.inputs.state import InputState
from allocator.observer import MetricsObserver
from allocator.offsets import DayOffsets, InputOffset
from allocator.pacing import Pacing
from allocator.ports import DayComputer, Publisher, ResultStore
from allocator.routing.pieces import (
    NO_COPIES,
    Reach,
    forward_batch,
    partition_of,
    usage_reach,
)
from allocator.scheduler import PassScheduler, Waits
from allocator.writes import MarkJob, WriteJob, WritePipeline
from finops.adapters.graphlog import GraphLog
from finops.contracts.events import (
    DayInputsRouted,
    GraphChanged,
    NodeCostsReported,
    UsageReported,
)
from finops.domain.dag import CostGraph, build_graph
from finops.errors import FinopsError

__all__ = ["AllocatorService"]

_log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class _Pending:
    """A date sent with a group: its reply to come, and what its job needs."""

    future: asyncio.Future[Computed | FinopsError]
    inputs: DayInputs
    waits: Waits
    version: int  # of the graph it is allocated with
    offsets: DayOffsets | None
    began: float


def _retrieved(future: asyncio.Future[Computed | FinopsError]) -> None:
    """A reply nobody waits for any more: its error, if any, is not reported."""
    if not future.cancelled():
        future.exception()


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
        computer: DayComputer | None = None,
        freshness_target_s: float = 0.0,
        group_days: int = 1,
    ) -> None:
        self.state, self._store, self._publisher = state, store, publisher
        self._partitions = partitions
        self.graph = GraphLog()
        self._cost_graph: CostGraph | None = None
        self._reach = NO_COPIES
        self.owned: set[int] = set()
        self.live: DayComputer = computer or LiveDays(
            engines=engine_days, frames=snapshot_days
        )
        # The rest between passes, steered by the latencies they store (0: none).
        self.pacing = Pacing(freshness_target_s)
        self.observer = MetricsObserver(clock, self.pacing)
        self.scheduler = PassScheduler()
        self.writes = WritePipeline(
            store, publisher, self.observer, clock=clock, retry=self._retry
        )
        # Dates without costs whose stored results are known to be empty: usage alone
        # allocates nothing, so they are not computed again until costs arrive.
        self._empty: set[date] = set()
        self._check_stored = False
        # Consecutive busy dates of a pass go to the computer together (decision
        # 0320); what it computed for the pass's later dates waits in _ready.
        self._group_days = group_days
        self._pass: list[date] = []
        self._taken: set[date] = set()  # dates of the pass computed so far
        self._ready: dict[date, _Pending] = {}

    @property
    def reach(self) -> Reach:
        """The dates a usage row is copied to (follows the graph's weighted_average
        rules)."""
        return self._reach

    @property
    def dirty(self) -> dict[date, Waits]:
        """Dates due in the next pass, with the events waiting behind each."""
        return self.scheduler.dirty

    @property
    def changed(self) -> asyncio.Event:
        """Set when a pass has something to do."""
        return self.scheduler.changed

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
            reach=self._reach,
            partitions=self._partitions,
            forward=self._publisher.forward,
        )

    def apply(self, piece: DayInputsRouted, *, partition: int, offset: int) -> None:
        """Fold a routed piece into the state; its date becomes dirty."""
        touched = self.state.apply(piece, InputOffset(partition, offset))
        self.live.touch(piece.charge_date, touched)
        times = piece.ingest_times()
        self.scheduler.add(piece.charge_date, times.items())
        self.observer.applied(times.items())
        self.changed.set()

    async def apply_graph(self, change: GraphChanged) -> None:
        """A new graph version: every owned date with inputs is recomputed. A change
        making the graph invalid raises FinopsError and is not taken in."""
        spec = self.graph.next_spec(change)
        if spec is None:
            return
        cost_graph = build_graph(spec)
        reach = usage_reach(spec)
        # Stored first: a store that fails leaves the change to be applied again.
        await self._store.write_graph(spec, change)
        self.graph.accept(change, spec)
        self._cost_graph, self._reach = cost_graph, reach
        for day in self.state.days:
            self.scheduler.add(day)
        self.changed.set()

    def assign(self, partitions: set[int]) -> None:
        """After a rebalance: rebuild the owned dates; stale ones are found next."""
        self.owned = set(partitions)
        self.state.rebuild(self.owns)
        self.live.clear()
        self._empty.clear()
        self.scheduler.keep(self.owns)
        self._check_stored = True
        self.changed.set()

    def recheck(self) -> None:
        """After a failed pass: what is stored is compared with the state again."""
        self.live.clear()
        self._empty.clear()
        self._check_stored = True
        self.changed.set()

    async def recompute_due(self) -> int:
        """Allocate and store every dirty date; returns how many were handled.

        Called by one task only. A date is in one pass once; the pass ends when its
        node rows and shares are stored (see WritePipeline), not before: overlapping
        passes were measured slower (docs/decisions/0009-node-rows-before-flows.md).
        """
        if self._cost_graph is None or self.writes.stopping:
            return 0
        self.changed.clear()
        if self._check_stored:
            await self._mark_stale()
        now = time.monotonic()
        days = self.scheduler.order(self.owns)
        self._pass, self._taken = days, set()
        try:
            await self.writes.run(days, self._compute)
        finally:
            self._pass, self._taken, left = [], set(), self._ready
            self._ready = {}
            for day, pending in left.items():  # computed with a group, not written
                pending.future.add_done_callback(_retrieved)
                self._retry(day, pending.waits)
        took = time.monotonic() - now
        self.observer.pass_took(took)
        _log.debug("pass: %d dates in %.2fs", len(days), took)
        return len(days)

    async def stop(self) -> None:
        """No more writes start; those under way finish."""
        await self.writes.stop()

    async def quiesce(self) -> None:
        """Wait for the writes under way (before partitions move, or to stop)."""
        await self.writes.quiesce()

    async def _mark_stale(self) -> None:
        """Dates whose stored results miss inputs or the graph version become dirty."""
        stored = await self._store.stored_days()
        self._check_stored = False
        for day in self.state.days:
            if stored.get(day) != (self.graph.version, self._offsets(day)):
                self.scheduler.add(day)

    def _offsets(self, day: date) -> DayOffsets | None:
        return self.state.position(day)

    async def _compute(self, day: date) -> WriteJob | MarkJob | None:
        """Allocate one date away from the event loop (a thread or another process),
        so the agents and /healthz keep answering; what to write, if anything. The
        consecutive busy dates of the pass around it are allocated with it."""
        if day not in self._ready:
            group = self._group_of(day)
            self._taken.update(group)
            if len(group) > 1:
                await self._compute_group(group, day)
        pending = self._ready.pop(day, None)
        if pending is not None:
            return await self._grouped_job(day, pending)
        graph, version = self._cost_graph, self.graph.version
        assert graph is not None
        waits = self.scheduler.take(day)
        if waits is None or not self.owns(day):  # moved away by a rebalance meanwhile
            return None
        began = time.perf_counter()
        inputs = self.state.days.get(day) or DayInputs()
        costless, offsets = not inputs.costs, self._offsets(day)
        if costless and day in self._empty:  # still nothing to allocate or store
            self.observer.unchanged()
            return MarkJob(day, waits, version, offsets)
        computed = await self._allocate(graph, day, inputs, waits)
        if computed is None:
            return None
        return self._job(day, inputs, computed, waits, (version, offsets), began)

    async def _grouped_job(
        self, day: date, pending: _Pending
    ) -> WriteJob | MarkJob | None:
        """A date of a group once its reply has come: what to write."""
        computed = await self._settled(day, pending.waits, pending.future)
        if computed is None:
            return None
        return self._job(
            day,
            pending.inputs,
            computed,
            pending.waits,
            (pending.version, pending.offsets),
            pending.began,
        )

    def _job(
        self,
        day: date,
        inputs: DayInputs,
        computed: Computed,
        waits: Waits,
        stored_as: tuple[int, DayOffsets | None],
        began: float,
    ) -> WriteJob | MarkJob:
        """What to store of a computed date (stored_as: the graph version and the
        offsets of its inputs when they were taken)."""
        (version, offsets), delta = stored_as, computed.delta
        if not inputs.costs and not (delta.nodes_written or delta.shares_written):
            self._empty.add(day)  # once stored (a failed write forgets it)
        if delta.is_empty:  # e.g. usage of a date without costs
            self.observer.unchanged()
            return MarkJob(day, waits, version, offsets)
        return WriteJob(day, delta, waits, version, offsets, began)

    def _group_of(self, day: date) -> list[date]:
        """The consecutive dates of the pass, still to compute and with costs, that
        go to the computer with `day` (just `day` when it has no costs). A date this
        pass computed already waits for the next, even if events made it dirty again
        meanwhile: its computed results must be written first."""
        if self._group_days < 2 or not self._has_costs(day):
            return [day]
        later = {
            d
            for d in self._pass
            if d not in self._taken
            and d in self.scheduler.dirty
            and self.owns(d)
            and self._has_costs(d)
        }
        return group_run(day, later, self._group_days)

    def _has_costs(self, day: date) -> bool:
        inputs = self.state.days.get(day)
        return inputs is not None and bool(inputs.costs)

    async def _compute_group(self, days: list[date], first: date) -> None:
        """Send dates in one request, `first` first and the others in the pass's
        order; each date's future waits in _ready. Each date's inputs, changes,
        events and offsets are taken together, before the request (what arrives
        meanwhile waits for the next pass)."""
        graph, version = self._cost_graph, self.graph.version
        assert graph is not None
        position = {d: i for i, d in enumerate(self._pass)}
        ordered = sorted(days, key=lambda d: (d != first, position.get(d, 0)))
        items: list[Item] = []
        taken: list[tuple[date, DayInputs, Waits, DayOffsets | None]] = []
        for day in ordered:
            waits = self.scheduler.take(day)
            if waits is None or not self.owns(day):
                continue
            inputs = self.state.days.get(day) or DayInputs()
            taken.append((day, inputs, waits, self._offsets(day)))
            items.append((day, inputs, self.live.take(day)))
        if not items:
            return
        began = time.perf_counter()
        try:
            futures = await self.live.allocate_many(graph, items)
        except BaseException:
            for day, _, waits, _ in taken:
                self.writes.retry(day, waits)
            raise
        for (day, inputs, waits, offsets), future in zip(taken, futures, strict=True):
            self._ready[day] = _Pending(future, inputs, waits, version, offsets, began)

    async def _allocate(
        self, graph: CostGraph, day: date, inputs: DayInputs, waits: Waits
    ) -> Computed | None:
        """The date allocated with its pending changes (None: its inputs are wrong)."""
        touched = self.live.take(day)
        allocation = self.live.allocate(graph, day, inputs, touched)
        return await self._settled(day, waits, allocation)

    async def _settled(
        self,
        day: date,
        waits: Waits,
        allocation: Awaitable[Computed] | Awaitable[Computed | FinopsError],
    ) -> Computed | None:
        """What a date's allocation computed; None when its inputs are wrong (the
        input's error, raised or given, is logged); any other failure makes the
        date dirty again and is raised."""
        try:
            with self.observer.allocating():
                outcome = await allocation
        except FinopsError as exc:
            outcome = exc
        except BaseException:
            self.writes.retry(day, waits)
            raise
        if isinstance(outcome, FinopsError):
            _log.error("charge date %s not allocated: %s", day, outcome)
            self.observer.failed()
            return None
        self.observer.allocated(outcome)
        return outcome

    def _retry(self, day: date, waits: Waits) -> None:
        """The date's stored rows are unknown: dirty again, written whole."""
        self.live.forget(day)
        self._empty.discard(day)
        self.scheduler.add(day, waits)
        self.changed.set()
