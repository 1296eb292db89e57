"""The allocator's service with in-memory fakes: routing, folding in, recomputing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

import pytest

from allocator.compute.group import Item
from allocator.compute.livedays import Computed, LiveDays
from allocator.inputs.days import DayInputs, Touched
from allocator.inputs.state import InputState
from allocator.offsets import DayOffsets, InputOffset
from allocator.ports import DayComputer, DayWrite
from allocator.service import AllocatorService
from finops.contracts.events import (
    DateScope,
    DayInputsRouted,
    GraphChanged,
    NodeCostsReported,
    UsageReported,
)
from finops.domain.allocation.engine import AllocationEngine
from finops.domain.allocation.readout import node_result
from finops.domain.dag import CostGraph, EdgeSpec, GraphSpec, NodeSpec, NodeType
from finops.domain.records import NodeCost, UsageRecord
from finops.errors import FinopsError
from tests.support.allocator_fakes import (
    FixedClock,
    InMemoryResultStore,
    RecordingPublisher,
)

DAY = date(2025, 3, 10)
NOW = datetime(2025, 3, 11, tzinfo=UTC)
SPEC = GraphSpec(
    nodes=[
        NodeSpec(id="db", type=NodeType.SHARED),
        NodeSpec(id="shop", type=NodeType.PRODUCT),
        NodeSpec(id="blog", type=NodeType.PRODUCT),
    ],
    edges=[
        EdgeSpec.model_validate(
            {
                "from": "db",
                "to": c,
                "strategy": "weighted_average",
                "params": {"metric": "requests", "window_days": 3},
            }
        )
        for c in ("shop", "blog")
    ],
)


def _service(
    store: InMemoryResultStore | None = None,
    computer: DayComputer | None = None,
    freshness_target_s: float = 0.0,
    group_days: int = 1,
) -> tuple[AllocatorService, InMemoryResultStore, RecordingPublisher]:
    store, publisher = store or InMemoryResultStore(), RecordingPublisher()
    state = InputState({}, {}, {})
    service = AllocatorService(
        state,
        store,
        publisher,
        partitions=6,
        clock=FixedClock(NOW),
        computer=computer,
        freshness_target_s=freshness_target_s,
        group_days=group_days,
    )
    service.owned = set(range(6))
    return service, store, publisher


def _graph(version: int = 1, spec: GraphSpec = SPEC) -> GraphChanged:
    return GraphChanged(
        event_id=uuid.uuid4(),
        occurred_at=NOW,
        version=version,
        digest="d",
        nodes_upserted=spec.nodes,
        edges_upserted=spec.edges,
    )


def _costs(amount: int, *, day: date = DAY, replace: bool = False) -> NodeCostsReported:
    return NodeCostsReported(
        event_id=uuid.uuid4(),
        occurred_at=NOW,
        source="bill",
        costs=[
            NodeCost(node="db", date=day, dimension="compute", amount_micros=amount)
        ],
        replaces=DateScope(first=day, last=day) if replace else None,
    )


def _usage(node: str, day: date, value: float) -> UsageReported:
    return UsageReported(
        event_id=uuid.uuid4(),
        occurred_at=NOW,
        source="metrics",
        usage=[UsageRecord(node=node, date=day, metric="requests", value=value)],
    )


async def _feed(
    service: AllocatorService,
    publisher: RecordingPublisher,
    *events: NodeCostsReported | UsageReported,
) -> None:
    for event in events:
        await service.route(event, "topic/0/0")
    for offset, (partition, piece) in enumerate(publisher.forwarded):
        service.apply(piece, partition=partition, offset=offset)
    publisher.forwarded.clear()
    await service.recompute_due()
    await service.quiesce()


def _batch(costs: list[NodeCost], usage: list[UsageRecord]) -> AllocationEngine:
    return AllocationEngine.from_records(SPEC, costs, usage)


async def test_usage_is_routed_to_every_date_of_its_window() -> None:
    service, _, publisher = _service()
    await service.apply_graph(_graph())
    await service.route(_usage("shop", DAY, 5.0), "usage/0/1")
    days = [piece.charge_date for _, piece in publisher.forwarded]
    assert days == [DAY, date(2025, 3, 11), date(2025, 3, 12)]
    assert {p for p, _ in publisher.forwarded} == {d.toordinal() % 6 for d in days}


async def test_stream_results_equal_the_batch_engine() -> None:
    service, store, publisher = _service()
    await service.apply_graph(_graph())
    usage = [_usage("shop", date(2025, 3, 9), 3.0), _usage("blog", DAY, 1.0)]
    await _feed(service, publisher, *usage, _costs(1_000_000))
    engine = _batch(
        [NodeCost(node="db", date=DAY, dimension="compute", amount_micros=1_000_000)],
        [r for e in usage for r in e.usage],
    )
    for node in ("db", "shop", "blog"):
        want = node_result(engine, node, DAY, "compute")
        got = store.nodes[(DAY, node, "compute")]
        assert got == (
            want.direct,
            want.indirect,
            want.holistic,
            want.allocated_out,
            want.retained,
        )
    assert [e.dimension for e in publisher.published] == ["compute"]


async def test_a_replayed_piece_changes_nothing_and_a_restatement_replaces() -> None:
    service, store, publisher = _service()
    await service.apply_graph(_graph())
    event = _costs(600_000)
    await _feed(service, publisher, event, event)
    assert store.nodes[(DAY, "db", "compute")][0] == 600_000
    await _feed(service, publisher, _costs(900_000, replace=True))
    assert store.nodes[(DAY, "db", "compute")][0] == 900_000


async def test_only_changed_rows_are_written_after_the_first_store() -> None:
    service, _, publisher = _service()
    await service.apply_graph(_graph())
    await _feed(service, publisher, _costs(1_000_000), _usage("shop", DAY, 1.0))
    published = len(publisher.published)
    await _feed(service, publisher, _usage("blog", date(2025, 3, 1), 9.0))
    assert len(publisher.published) == published  # outside every window: nothing moved


async def test_a_new_graph_version_recomputes_owned_dates() -> None:
    service, store, publisher = _service()
    await service.apply_graph(_graph())
    await _feed(service, publisher, _costs(1_000_000))
    ended = [e.model_copy(update={"active_to": DAY}) for e in SPEC.edges]
    await service.apply_graph(
        GraphChanged(
            event_id=uuid.uuid4(),
            occurred_at=NOW,
            version=2,
            digest="e",
            edges_upserted=ended,
        )
    )
    await service.recompute_due()
    assert store.nodes[(DAY, "db", "compute")][4] == 1_000_000  # db keeps it all
    assert store.days[DAY][0] == 2


async def test_a_date_whose_results_did_not_change_is_not_recomputed_again() -> None:
    service, store, publisher = _service()
    await service.apply_graph(_graph())
    await _feed(service, publisher, _costs(1_000_000))
    later = date(2025, 3, 11)  # usage reaches it through the window; it has no costs
    await _feed(service, publisher, _usage("shop", DAY, 5.0))
    assert later in service.state.days and later in store.days  # written once (empty)
    await service.route(_usage("blog", DAY, 3.0), "topic/0/1")  # nothing to store there
    for offset, (partition, piece) in enumerate(publisher.forwarded, start=100):
        service.apply(piece, partition=partition, offset=offset)
    await service.recompute_due()
    assert store.days[later][1] == service.state.position(later)
    writes = store.writes
    service.assign(set(range(6)))  # a restart: no date is stale
    await service.recompute_due()
    assert store.writes == writes


async def test_assign_recomputes_only_dates_stored_stale() -> None:
    service, store, publisher = _service()
    await service.apply_graph(_graph())
    await _feed(service, publisher, _costs(1_000_000))
    writes = store.writes
    service.assign(set(range(6)))
    await service.recompute_due()
    assert store.writes == writes
    store.days[DAY] = (0, None)
    service.assign(set(range(6)))
    await service.recompute_due()
    assert store.writes == writes + 1


async def test_merged_pieces_leave_the_same_state_as_pieces_one_by_one() -> None:
    from allocator.routing.pieces import (
        Reach,
        merge_pieces,
        route_batch,
        route_event,
    )

    events: list[NodeCostsReported | UsageReported] = [
        _costs(100),
        _costs(200),
        _usage("shop", DAY, 1.0),
        _costs(300, replace=True),
        _usage("shop", DAY, 4.0),
        _usage("blog", DAY, 2.0),
    ]
    pieces = [
        p for e in events for p in route_event(e, origin="t/0/0", reach=Reach.every(3))
    ]
    one, merged = InputState({}, {}, {}), InputState({}, {}, {})
    for piece in pieces:
        one.apply(piece, InputOffset(0, 0))
    for piece in merge_pieces(pieces):
        merged.apply(piece, InputOffset(0, 0))
    assert len(merge_pieces(pieces)) < len(pieces)
    assert one.days == merged.days
    batch = InputState({}, {}, {})
    routed = route_batch([(e, "t/0/0") for e in events], reach=Reach.every(3))
    for piece in routed:
        batch.apply(piece, InputOffset(0, 0))
    assert batch.days == one.days
    assert [p.model_dump(exclude={"event_id"}) for p in routed] == [
        p.model_dump(exclude={"event_id"}) for p in merge_pieces(pieces)
    ]
    assert sum(p.events for p in routed) == len(pieces)


async def test_merged_events_keep_their_own_ingest_times_for_latency() -> None:
    from allocator import metrics
    from allocator.routing.pieces import Reach, merge_pieces, route_batch
    from finops.contracts.codec import decode_event, encode_event

    events = [_costs(100 * s) for s in (3, 1, 2)]  # occurred 3, 1 and 2 s before NOW
    events = [
        e.model_copy(update={"occurred_at": NOW - timedelta(seconds=s)})
        for e, s in zip(events, (3, 1, 2), strict=True)
    ]
    (piece,) = route_batch([(e, "t/0/0") for e in events], reach=Reach(1))
    assert piece.events == 3 and piece.ingested_at == NOW - timedelta(seconds=3)
    assert piece.ingested_after_ms == [0, 2000, 1000]
    again = decode_event(encode_event(piece))
    assert isinstance(again, DayInputsRouted)
    assert again.ingest_times() == {NOW - timedelta(seconds=s): 1 for s in (3, 2, 1)}
    # Pieces merged again keep every event's time.
    (same,) = merge_pieces([piece, piece])
    assert same.ingest_times() == {at: 2 for at in piece.ingest_times()}

    def observed() -> tuple[float, float]:
        name = "finops_allocator_ingest_to_stored_seconds"
        count = metrics.REGISTRY.get_sample_value(f"{name}_count") or 0.0
        return count, metrics.REGISTRY.get_sample_value(f"{name}_sum") or 0.0

    service, _, _ = _service()
    await service.apply_graph(_graph())
    before = observed()
    service.apply(piece, partition=0, offset=0)
    await service.recompute_due()
    after = observed()
    assert (after[0] - before[0], after[1] - before[1]) == (3, 6.0)


def test_a_piece_with_a_time_per_event_must_have_one_for_each() -> None:
    from pydantic import ValidationError

    (piece,) = route_batch_of(_costs(1), _costs(2))
    fields = piece.model_dump() | {"ingested_after_ms": [0]}
    with pytest.raises(ValidationError, match="1 entries for 2 events"):
        DayInputsRouted.model_validate(fields)


def route_batch_of(*events: NodeCostsReported) -> list[DayInputsRouted]:
    from allocator.routing.pieces import Reach, route_batch

    return route_batch([(e, "t/0/0") for e in events], reach=Reach(1))


class HookedDays(LiveDays):
    """LiveDays (as the service builds it) that calls a hook before each allocation."""

    def __init__(self, hook: Callable[[date], None]) -> None:
        super().__init__(engines=8, frames=32)
        self.hook = hook

    async def allocate(
        self,
        graph: CostGraph,
        day: date,
        inputs: DayInputs,
        touched: Touched,
    ) -> Computed:
        self.hook(day)
        return await super().allocate(graph, day, inputs, touched)


async def test_a_rebalance_during_a_pass_skips_the_dates_moved_away() -> None:
    later = date(2025, 3, 13)

    def rebalanced_meanwhile(day: date) -> None:
        # Another worker takes the later date's partition while DAY is allocated.
        service.assign(set(range(6)) - {later.toordinal() % 6})

    service, store, publisher = _service(computer=HookedDays(rebalanced_meanwhile))
    await service.apply_graph(_graph())
    for day in (DAY, later):
        await service.route(_costs(1_000_000, day=day), "topic/0/0")
    for offset, (partition, piece) in enumerate(publisher.forwarded):
        service.apply(piece, partition=partition, offset=offset)
    assert DAY.toordinal() % 6 != later.toordinal() % 6
    await service.recompute_due()
    assert {d for d, _, _ in store.nodes} == {DAY}


async def test_a_date_with_usage_only_is_allocated_again_once_costs_arrive() -> None:
    allocated: list[date] = []
    service, store, publisher = _service(computer=HookedDays(allocated.append))
    await service.apply_graph(_graph())
    await _feed(service, publisher, _usage("shop", DAY, 2.0))  # 3 dates, no costs
    assert sorted(allocated) == [DAY, date(2025, 3, 11), date(2025, 3, 12)]
    await _feed(service, publisher, _usage("blog", DAY, 1.0))
    assert len(allocated) == 3 and not store.nodes  # nothing to allocate: skipped
    await _feed(service, publisher, _costs(1_000_000))
    assert allocated[3:] == [DAY]
    engine = _batch(
        [NodeCost(node="db", date=DAY, dimension="compute", amount_micros=1_000_000)],
        [
            r
            for e in (_usage("shop", DAY, 2.0), _usage("blog", DAY, 1.0))
            for r in e.usage
        ],
    )
    for node in ("db", "shop", "blog"):
        want = node_result(engine, node, DAY, "compute")
        assert store.nodes[(DAY, node, "compute")][:3] == (
            want.direct,
            want.indirect,
            want.holistic,
        )


class GatedStore(InMemoryResultStore):
    """Writes wait until let through."""

    def __init__(self) -> None:
        super().__init__()
        self.gate, self.started = asyncio.Event(), asyncio.Event()

    async def write_results(self, write: DayWrite) -> None:
        self.started.set()
        await self.gate.wait()
        await super().write_results(write)


async def test_stopping_lets_the_writes_under_way_finish_and_starts_no_pass() -> None:
    store = GatedStore()
    service, _, publisher = _service(store)
    await service.apply_graph(_graph())
    await service.route(_costs(1_000_000), "topic/0/0")
    for offset, (partition, piece) in enumerate(publisher.forwarded):
        service.apply(piece, partition=partition, offset=offset)
    running = asyncio.create_task(service.recompute_due())
    await asyncio.wait_for(store.started.wait(), 5)
    stopping = asyncio.create_task(service.stop())
    await asyncio.sleep(0.01)
    assert not stopping.done()  # waits for the write under way
    store.gate.set()
    await asyncio.wait_for(stopping, 5)
    assert await running == 1 and store.nodes[(DAY, "db", "compute")][0] == 1_000_000
    await service.route(_costs(2_000_000), "topic/0/1")
    assert await service.recompute_due() == 0  # stopped: nothing more is written


async def test_a_failed_mark_of_a_date_without_results_makes_it_dirty_again() -> None:
    class FailingMarks(InMemoryResultStore):
        failures = 1

        async def mark_day(
            self, day: date, *, graph_version: int, offsets: DayOffsets | None
        ) -> None:
            if self.failures:
                self.failures -= 1
                raise OSError("database went away")
            await super().mark_day(day, graph_version=graph_version, offsets=offsets)

    service, store, publisher = _service(FailingMarks())
    await service.apply_graph(_graph())
    for value in (2.0, 3.0):  # no costs: no rows; the first pass stores it empty
        await service.route(_usage("shop", DAY, value), "topic/0/0")
        for partition, piece in publisher.forwarded:
            service.apply(piece, partition=partition, offset=int(value))
        publisher.forwarded.clear()
        if value == 2.0:
            await service.recompute_due()
    with pytest.raises(OSError, match="database went away"):
        await service.recompute_due()
    assert DAY in service.dirty  # its new offsets are not recorded yet
    assert store.days[DAY][1] != service.state.position(DAY)
    await service.recompute_due()
    assert store.days[DAY][1] == service.state.position(DAY) and not store.nodes


class FailingWrites(InMemoryResultStore):
    """The writes after the first `after` fail `failures` times."""

    def __init__(self, after: int, failures: int) -> None:
        super().__init__()
        self.after, self.failures = after, failures
        self.complete: list[bool] = []

    async def write_results(self, write: DayWrite) -> None:
        if self.after:
            self.after -= 1
        elif self.failures:
            self.failures -= 1
            raise OSError("database went away")
        self.complete.append(write.delta.complete)
        await super().write_results(write)


def _apply_forwarded(
    service: AllocatorService, publisher: RecordingPublisher, start: int
) -> None:
    for offset, (partition, piece) in enumerate(publisher.forwarded, start=start):
        service.apply(piece, partition=partition, offset=offset)
    publisher.forwarded.clear()


async def test_node_rows_and_shares_are_one_write_and_flows_follow_them() -> None:
    store = InMemoryResultStore()
    service, _, publisher = _service(store)
    await service.apply_graph(_graph())
    await service.route(_costs(1_000_000), "topic/0/0")
    _apply_forwarded(service, publisher, 0)
    assert await service.recompute_due() == 1
    assert store.writes == 1 and store.days[DAY][1] == service.state.position(DAY)
    assert sum(v[0] for k, v in store.flows.items() if k[0] == DAY) == 1_000_000
    await service.route(_costs(2_000_000), "topic/0/1")
    _apply_forwarded(service, publisher, 10)
    assert await service.recompute_due() == 1
    assert store.nodes[(DAY, "db", "compute")][0] == 2_000_000
    assert sum(v[0] for k, v in store.flows.items() if k[0] == DAY) == 2_000_000


@pytest.mark.parametrize(("age_s", "rests"), [(0.2, True), (1.5, False)])
async def test_passes_rest_only_while_the_events_they_store_are_fresh(
    age_s: float, rests: bool
) -> None:
    service, _, publisher = _service(freshness_target_s=0.8)
    await service.apply_graph(_graph())
    event = _costs(1_000_000).model_copy(
        update={"occurred_at": NOW - timedelta(seconds=age_s)}
    )
    await _feed(service, publisher, event)
    rest = service.pacing.rest_after(0.5)
    assert rest == (pytest.approx(0.5 * (0.8 - age_s)) if rests else 0.0)


async def test_a_failed_write_fails_its_pass_and_the_date_is_written_whole() -> None:
    store = FailingWrites(after=1, failures=1)
    service, _, publisher = _service(store)
    await service.apply_graph(_graph())
    await service.route(_costs(1_000_000), "topic/0/0")
    _apply_forwarded(service, publisher, 0)
    await service.recompute_due()
    await service.route(_costs(2_000_000), "topic/0/1")
    _apply_forwarded(service, publisher, 10)
    with pytest.raises(OSError, match="database went away"):
        await service.recompute_due()
    assert DAY in service.dirty
    await service.recompute_due()
    assert store.complete == [True, True]  # written whole again
    assert store.nodes[(DAY, "db", "compute")][0] == 2_000_000
    assert sum(v[0] for k, v in store.flows.items() if k[0] == DAY) == 2_000_000
    assert store.days[DAY][1] == service.state.position(DAY)


class RecordedDays(LiveDays):
    """LiveDays that records the dates of each request for several."""

    def __init__(self) -> None:
        super().__init__(engines=8, frames=32)
        self.requests: list[list[date]] = []

    async def allocate_many(
        self, graph: CostGraph, items: Sequence[Item]
    ) -> list[asyncio.Future[Computed | FinopsError]]:
        self.requests.append([day for day, _, _ in items])
        return await super().allocate_many(graph, items)


async def test_consecutive_busy_dates_are_allocated_together_and_equal_the_batch() -> (
    None
):
    days = [DAY + timedelta(days=k) for k in range(3)]
    computer = RecordedDays()
    service, store, publisher = _service(computer=computer, group_days=7)
    await service.apply_graph(_graph())
    costs = [_costs(1_000_000 * (k + 1), day=d) for k, d in enumerate(days)]
    usage = [_usage("shop", days[0], 3.0), _usage("blog", days[1], 1.0)]
    await _feed(service, publisher, *usage, *costs, _costs(5, day=DAY + timedelta(9)))
    assert sorted(map(sorted, computer.requests)) == [days]  # the lone date alone
    await _feed(service, publisher, _usage("blog", days[2], 4.0), _costs(7, day=DAY))
    assert sorted(computer.requests[-1]) == days  # one engine, kept
    engine = _batch(  # the source's new figure for DAY replaced its old one
        [c for e in costs[1:] for c in e.costs]
        + [NodeCost(node="db", date=DAY, dimension="compute", amount_micros=7)],
        [r for e in (*usage, _usage("blog", days[2], 4.0)) for r in e.usage],
    )
    for day in days:
        for node in ("db", "shop", "blog"):
            want = node_result(engine, node, day, "compute")
            assert store.nodes.get((day, node, "compute"), (0,) * 5) == (
                want.direct,
                want.indirect,
                want.holistic,
                want.allocated_out,
                want.retained,
            ), (day, node)


async def test_grouped_dates_left_unwritten_by_a_stop_are_dirty_again() -> None:
    class StoppedMeanwhile(RecordedDays):
        async def allocate_many(
            self, graph: CostGraph, items: Sequence[Item]
        ) -> list[asyncio.Future[Computed | FinopsError]]:
            computed = await super().allocate_many(graph, items)
            service.writes.stopping = True  # a stop arrives while they are computed
            return computed

    days = [DAY + timedelta(days=k) for k in range(3)]
    service, store, publisher = _service(computer=StoppedMeanwhile(), group_days=7)
    await service.apply_graph(_graph())
    for day in days:
        await service.route(_costs(1_000_000, day=day), "topic/0/0")
    _apply_forwarded(service, publisher, 0)
    await service.recompute_due()
    assert not store.nodes  # nothing written once stopping
    first = service.scheduler.order(service.owns)
    assert len(first) == 2  # the dates computed with the first wait again
