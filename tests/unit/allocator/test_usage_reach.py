"""Usage copied only where a weighted_average window reads it (decision 0340): every
date allocates exactly what it would with every usage row copied over the window."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from allocator.inputs.state import InputState
from allocator.offsets import InputOffset
from allocator.routing.consumer import _routed_with
from allocator.routing.pieces import Reach, route_batch, usage_reach
from finops.contracts.events import DateScope, NodeCostsReported, UsageReported
from finops.domain.dag import EdgeSpec, GraphSpec, NodeSpec, NodeType
from finops.domain.records import UsageRecord
from tests.unit.allocator.test_livedays import NOW, SynthFeed, fresh_rows

FIRST = date(2025, 1, 1)
DAYS = [FIRST + timedelta(days=k) for k in range(12)]


def _fold(events: list[NodeCostsReported | UsageReported], reach: Reach) -> InputState:
    state = InputState({}, {}, {})
    pieces = route_batch([(e, "t/0/0") for e in events], reach=reach)
    for offset, piece in enumerate(pieces):
        state.apply(piece, InputOffset(0, offset))
    return state


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_date_allocates_what_every_row_copied_gives(seed: int) -> None:
    feed = SynthFeed(seed)
    assert feed.reach.days == 7 and feed.reach.windowed
    rng = feed.rng
    events: list[NodeCostsReported | UsageReported] = [
        feed.cost_on(node, day, "compute", rng.randint(0, 10**9))
        for node in feed.ids
        for day in DAYS
    ]
    usage = [
        feed.usage_on(rng.choice(feed.targets), rng.choice(DAYS), rng.uniform(0, 500))
        for _ in range(1400)
    ]
    replaced = UsageReported(  # a replaced scope clears what copies reached
        event_id=uuid.uuid4(),
        occurred_at=NOW,
        source="metrics",
        replaces=DateScope(first=DAYS[3], last=DAYS[4]),
        usage=[row for e in usage[1200:1300] for row in e.usage],
    )
    events += [*usage[:1200], replaced, *usage[1300:]]
    selective = _fold(events, feed.reach)
    every = _fold(events, Reach.every(feed.reach.days))
    copied = sum(len(e) for d in selective.days.values() for e in d.usage.values())
    all_copies = sum(len(e) for d in every.days.values() for e in d.usage.values())
    assert copied < all_copies  # rows no window reads stayed on their own date
    for day in DAYS:
        assert fresh_rows(feed.graph, day, selective.days[day]) == fresh_rows(
            feed.graph, day, every.days[day]
        ), day


def _edge(parent: str, child: str, strategy: str, **params: object) -> EdgeSpec:
    return EdgeSpec.model_validate(
        {"from": parent, "to": child, "strategy": strategy, "params": params}
    )


def test_the_reach_names_the_children_and_metrics_windows_read() -> None:
    nodes = [NodeSpec(id=i, type=NodeType.RESOURCE) for i in "pabcd"]
    spec = GraphSpec(
        nodes=nodes,
        edges=[
            _edge("p", "a", "weighted_average", metric="req", window_days=3),
            _edge("p", "b", "weighted_average", metric="req", window_days=3),
            _edge("a", "c", "proportional", metric="cpu"),
            _edge("b", "d", "weighted_average", metric="cpu", window_days=5),
        ],
    )
    reach = usage_reach(spec)
    assert reach == Reach(5, frozenset({("a", "req"), ("b", "req"), ("d", "cpu")}))
    assert usage_reach(spec.model_copy(update={"edges": spec.edges[2:3]})) == Reach(
        1, frozenset()
    )
    row = UsageRecord(node="c", date=FIRST, metric="cpu", value=1.0)
    assert not reach.copies(row)  # read by a proportional rule on its date only
    assert reach.copies(row.model_copy(update={"node": "d"}))
    assert not reach.copies(row.model_copy(update={"node": "a"}))  # not its metric
    assert Reach.every(5).copies(row) and not Reach.every(1).copies(row)


def test_a_reach_covers_what_it_copies_at_least_as_far() -> None:
    small = Reach(7, frozenset({("a", "req")}))
    big = Reach(7, frozenset({("a", "req"), ("b", "cpu")}))
    assert small.covered_by(big) and not big.covered_by(small)
    assert small.covered_by(Reach.every(7)) and not small.covered_by(Reach.every(6))
    assert not Reach(8, small.windowed).covered_by(small)
    assert Reach(1, frozenset()).covered_by(Reach(1, frozenset()))  # nothing copied
    assert small.digest != big.digest and small.digest.startswith("7-")
    assert small.digest == Reach(7, frozenset({("a", "req")})).digest


def test_a_commit_names_the_reach_it_was_routed_with() -> None:
    big = Reach(7, frozenset({("a", "req"), ("b", "cpu")}))
    known = {big.digest: big}
    assert _routed_with(f"window=7 reach={big.digest}", known) == big
    assert _routed_with("window=7", known) == Reach.every(7)  # before reaches
    assert _routed_with("", known) == Reach(1, frozenset())  # before windows
    # Routed elsewhere (another process, before a restart): taken as no copies.
    assert _routed_with("window=7 reach=7-0123456789abcdef", known) == Reach(
        1, frozenset()
    )
