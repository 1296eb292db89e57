"""Consecutive busy dates on one engine (decision 0320): every date of a group stores
exactly what a fresh one-day allocation of its own inputs gives, node rows and the
flows derived from its shares, while the group is kept, dropped and built again."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from allocator.compute.daydelta import NodeKey
from allocator.compute.group import group_run
from allocator.compute.livedays import Computed, LiveDays
from allocator.inputs.days import Touched
from allocator.inputs.state import InputState
from allocator.offsets import InputOffset
from allocator.routing.pieces import route_event
from finops.contracts.events import NodeCostsReported, UsageReported
from finops.domain.dag import CostGraph, GraphSpec, build_graph
from finops.errors import FinopsError
from tests.support.derived_flows import Flows, StoredDay
from tests.unit.allocator.test_livedays import SynthFeed, fresh_rows

FIRST = date(2025, 1, 8)
DAYS = [FIRST + timedelta(days=k) for k in range(3)]
NOW = datetime(2025, 1, 11, tzinfo=UTC)
DIMS = ["compute", "storage"]


class Feed(SynthFeed):
    """Random cost and usage events on three consecutive dates, in an InputState."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.touched: dict[date, Touched] = {}

    def apply(self, event: NodeCostsReported | UsageReported) -> None:
        for piece in route_event(event, origin="t/0/0", reach=self.reach):
            if piece.charge_date in DAYS:
                self.offset += 1
                touched = self.state.apply(piece, InputOffset(0, self.offset))
                self.touched.setdefault(piece.charge_date, Touched()).add(touched)

    def random_event(self) -> NodeCostsReported | UsageReported:
        day = self.rng.choice(DAYS)
        if self.rng.random() < 0.5:
            micros = self.rng.choice([0, self.rng.randint(-(10**6), 10**9)])
            return self.cost_on(
                self.rng.choice(self.ids), day, self.rng.choice(DIMS), micros
            )
        back = day - timedelta(days=self.rng.randrange(self.reach.days))
        value = self.rng.choice([0.0, self.rng.uniform(0, 500)])
        return self.usage_on(self.rng.choice(self.targets), back, value)

    def take(self, day: date) -> Touched:
        return self.touched.pop(day, None) or Touched()


def _fresh(
    graph: CostGraph, feed: Feed, day: date
) -> tuple[dict[NodeKey, tuple[int, ...]], Flows]:
    """A fresh one-day allocation of the date's inputs, as `finops allocate` reads."""
    return fresh_rows(graph, day, feed.state.days[day])


def _compute(live: LiveDays, feed: Feed, days: list[date]) -> list[Computed]:
    items = [(day, feed.state.days[day], feed.take(day)) for day in days]
    outcomes = live.compute_many(feed.graph, items)
    assert not any(isinstance(o, FinopsError) for o in outcomes)
    return [o for o in outcomes if isinstance(o, Computed)]


def _check(feed: Feed, stored: dict[date, StoredDay], step: object) -> None:
    for day in DAYS:
        nodes, flows = _fresh(feed.graph, feed, day)
        assert stored[day].nodes == nodes, f"{day}, step {step}"
        assert stored[day].flows() == flows, f"{day}, step {step}"  # micro-units


def _seeded(seed: int) -> tuple[Feed, LiveDays, dict[date, StoredDay]]:
    feed = Feed(seed)
    for day in DAYS:
        for node in feed.ids[:40]:
            for dim in DIMS:
                feed.apply(feed.cost_on(node, day, dim, 1_000_000 + len(node)))
    return feed, LiveDays(engines=4, frames=8), {day: StoredDay() for day in DAYS}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_grouped_dates_store_what_fresh_one_day_allocations_give(seed: int) -> None:
    feed, live, stored = _seeded(seed)
    built: list[str | None] = []
    for step in range(30):
        for _ in range(feed.rng.choice([1, 3, 12, 40])):
            feed.apply(feed.random_event())
        # Every date, or some of them: a group updates the dates it is asked for.
        days = DAYS if step % 4 != 1 else feed.rng.sample(DAYS, feed.rng.choice([1, 2]))
        for day, computed in zip(
            sorted(days), _compute(live, feed, sorted(days)), strict=True
        ):
            stored[day].write(computed.delta)
            built.append(computed.built)
        for day in set(DAYS) - set(days):  # not asked for: compared once computed
            for computed in _compute(live, feed, [day]):
                stored[day].write(computed.delta)
        _check(feed, stored, step)
    assert built[:3] == ["grouped"] * 3  # one engine for the three dates
    assert built.count("grouped") == 3  # kept ever since (updated, not rebuilt)


def test_a_date_without_costs_or_with_new_dimensions_leaves_the_group() -> None:
    feed, live, stored = _seeded(4)
    for day, computed in zip(DAYS, _compute(live, feed, DAYS), strict=True):
        stored[day].write(computed.delta)
    # A new dimension on one date: the group is dropped, each date on its own.
    feed.apply(feed.cost_on(feed.ids[0], DAYS[1], "licenses", 3_000_000))
    for day, computed in zip(DAYS, _compute(live, feed, DAYS), strict=True):
        stored[day].write(computed.delta)
        assert computed.built in (None, "not kept")
    _check(feed, stored, "dimension")
    # Every cost of a date set to nothing: that date has no rows left.
    for node in feed.ids[:40]:
        for dim in DIMS:
            feed.apply(feed.cost_on(node, DAYS[0], dim, 0))
    feed.apply(feed.cost_on(feed.ids[0], DAYS[0], "licenses", 0))
    for day, computed in zip(DAYS, _compute(live, feed, DAYS), strict=True):
        stored[day].write(computed.delta)
    _check(feed, stored, "costless")


def test_a_new_graph_or_a_cleared_live_days_builds_the_group_again() -> None:
    feed, live, stored = _seeded(5)
    for day, computed in zip(DAYS, _compute(live, feed, DAYS), strict=True):
        stored[day].write(computed.delta)
    feed.graph = build_graph(feed.graph.spec)  # a new graph object
    computed_all = _compute(live, feed, DAYS)
    assert [c.built for c in computed_all] == ["grouped"] * 3
    for day, computed in zip(DAYS, computed_all, strict=True):
        assert computed.delta.shares.complete  # a new graph's plans: shares rewritten
        stored[day].write(computed.delta)
    _check(feed, stored, "graph")
    live.clear()
    for _ in range(20):
        feed.apply(feed.random_event())
    for day, computed in zip(DAYS, _compute(live, feed, DAYS), strict=True):
        assert computed.built == "grouped" and computed.delta.complete
        stored[day].write(computed.delta)
    _check(feed, stored, "cleared")


def test_group_run_is_the_consecutive_dates_around_a_date() -> None:
    d = date(2025, 3, 10)
    near = {d - timedelta(days=1), d + timedelta(days=1), d + timedelta(days=3)}
    assert group_run(d, near) == [d - timedelta(days=1), d, d + timedelta(days=1)]
    assert group_run(d, set()) == [d]
    many = {d + timedelta(days=k) for k in range(1, 20)}
    assert group_run(d, many, limit=4) == [d + timedelta(days=k) for k in range(4)]


@pytest.mark.parametrize(
    ("seed", "process"),
    [
        (21, False),
        (22, False),
        (23, False),
        (24, False),
        (25, False),
        (23, True),
        (24, True),
    ],
)
async def test_a_service_grouping_dates_stores_fresh_results_under_interleaving(
    seed: int, process: bool
) -> None:
    """Passes over twelve dates, with pieces applied while a pass runs and
    rebalances between passes: every date ends as a fresh allocation of its inputs
    (dates allocated in this process, or in the compute process)."""
    import asyncio

    from allocator.compute.process import ComputeProcess
    from allocator.service import AllocatorService
    from tests.support.allocator_fakes import InMemoryResultStore, RecordingPublisher
    from tests.unit.allocator.test_service import _graph as graph_change

    feed = Feed(seed)
    days = [FIRST + timedelta(days=k) for k in range(12)]
    store, publisher = InMemoryResultStore(), RecordingPublisher()
    computer = ComputeProcess(engines=8, frames=32) if process else None
    service = AllocatorService(
        InputState({}, {}, {}),
        store,
        publisher,
        partitions=6,
        group_days=7,
        computer=computer,
    )
    service.owned = set(range(6))
    assert isinstance(feed.graph.spec, GraphSpec)
    await service.apply_graph(graph_change(1, feed.graph.spec))
    offset = 0

    async def send(count: int) -> None:
        nonlocal offset
        for _ in range(count):
            day = feed.rng.choice(days)
            event: NodeCostsReported | UsageReported
            if feed.rng.random() < 0.6:
                node, dim = feed.rng.choice(feed.ids), feed.rng.choice(DIMS)
                event = feed.cost_on(node, day, dim, feed.rng.randint(0, 10**9))
            else:
                event = feed.usage_on(feed.rng.choice(feed.targets), day, 3.0)
            await service.route(event, f"t/0/{offset}")
        for partition, piece in publisher.forwarded:
            offset += 1
            service.apply(piece, partition=partition, offset=offset)
            await asyncio.sleep(0)  # a pass under way goes on meanwhile
        publisher.forwarded.clear()

    await send(300)
    for step in range(25):
        running = asyncio.create_task(service.recompute_due())
        await asyncio.sleep(0)
        await send(feed.rng.choice([1, 5, 30]))
        await running
        if step % 7 == 6:
            service.assign(set(range(6)))  # a rebalance: nothing kept is trusted
    while service.dirty:
        await service.recompute_due()
    await service.quiesce()
    if computer is not None:
        await computer.close()
    feed.state = service.state
    for day in days:
        if day not in service.state.days:
            continue
        nodes, flows = _fresh(feed.graph, feed, day)
        stored = store.stored.get(day)
        assert (stored.nodes if stored else {}) == nodes, day
        assert (stored.flows() if stored else {}) == flows, day
