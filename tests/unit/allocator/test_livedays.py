"""Kept engines and frames: incremental recomputes store node rows and shares from
which PostgreSQL derives exactly the flows of a fresh allocation."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from allocator.compute.daydelta import FlowKey, NodeKey, build_engine
from allocator.compute.livedays import LiveDays
from allocator.inputs.days import DayInputs, Touched
from allocator.inputs.state import InputState
from allocator.offsets import InputOffset
from allocator.routing.pieces import route_event, usage_reach
from finops.contracts.events import DateScope, NodeCostsReported, UsageReported
from finops.domain.allocation.readout import flow_columns, node_arrays
from finops.domain.allocation.synth import METRICS, SynthOptions, generate_org
from finops.domain.dag import CostGraph, build_graph
from finops.domain.records import NodeCost, UsageRecord
from tests.support.derived_flows import StoredDay

DAY = date(2025, 1, 10)
NOW = datetime(2025, 1, 11, tzinfo=UTC)
DIMS = ["compute", "storage", "network"]


class SynthFeed:
    """A small synthetic organisation, and the InputState its events fold into."""

    def __init__(self, seed: int, *, dimensions: int = 1) -> None:
        """dimensions: of the organisation's rules (above 1, some parents have an
        override in the second: their sets differ between dimensions)."""
        options = SynthOptions(
            nodes=80, edges=240, days=1, dimensions=dimensions, seed=seed
        )
        org = generate_org(options)
        self.spec = org.spec
        self.graph = build_graph(org.spec)
        self.reach = usage_reach(org.spec)
        self.rng = random.Random(seed)
        self.ids = [n.id for n in org.spec.nodes]
        self.targets = sorted({e.to for e in org.spec.edges})
        self.state = InputState({}, {}, {})
        self.offset = 0

    def cost_on(
        self, node: str, day: date, dim: str, micros: int, *, source: str = "bill"
    ) -> NodeCostsReported:
        return NodeCostsReported(
            event_id=uuid.uuid4(),
            occurred_at=NOW,
            source=source,
            costs=[NodeCost(node=node, date=day, dimension=dim, amount_micros=micros)],
        )

    def usage_on(self, node: str, day: date, value: float) -> UsageReported:
        return UsageReported(
            event_id=uuid.uuid4(),
            occurred_at=NOW,
            source="metrics",
            usage=[
                UsageRecord(
                    node=node,
                    date=day,
                    metric=self.rng.choice(METRICS),
                    value=value,
                    labels={"env": self.rng.choice(["prod", "dev"])},
                )
            ],
        )


class Feed(SynthFeed):
    """Random cost and usage events for one organisation, folded into an InputState."""

    def cost(
        self, node: str, dim: str, micros: int, *, source: str = "bill"
    ) -> NodeCostsReported:
        return self.cost_on(node, DAY, dim, micros, source=source)

    def usage(self, node: str, value: float, *, back: int = 0) -> UsageReported:
        return self.usage_on(node, DAY - timedelta(days=back), value)

    def replace_usage(self, days: int) -> UsageReported:
        return UsageReported(
            event_id=uuid.uuid4(),
            occurred_at=NOW,
            source="metrics",
            replaces=DateScope(first=DAY - timedelta(days=days - 1), last=DAY),
            usage=[],
        )

    def apply(self, event: NodeCostsReported | UsageReported) -> Touched:
        touched = Touched()
        for piece in route_event(event, origin="t/0/0", reach=self.reach):
            if piece.charge_date == DAY:
                self.offset += 1
                touched.add(self.state.apply(piece, InputOffset(0, self.offset)))
        return touched

    def random_event(self) -> NodeCostsReported | UsageReported:
        roll = self.rng.random()
        if roll < 0.45:
            micros = self.rng.choice([0, self.rng.randint(-(10**6), 10**9)])
            return self.cost(self.rng.choice(self.ids), self.rng.choice(DIMS), micros)
        if roll < 0.9:
            back = self.rng.randrange(self.reach.days)
            value = self.rng.choice([0.0, self.rng.uniform(0, 500)])
            return self.usage(self.rng.choice(self.targets), value, back=back)
        if roll < 0.95:
            return self.cost("ghost", "compute", 5)  # a node the graph lacks
        return self.replace_usage(self.rng.randint(1, self.reach.days))


def _fresh(
    graph: CostGraph, feed: Feed
) -> tuple[dict[NodeKey, tuple[int, ...]], dict[FlowKey, tuple[int, str, float]]]:
    """Rows of a fresh engine, read as `finops allocate` reads them."""
    return fresh_rows(graph, DAY, feed.state.days[DAY])


def fresh_rows(
    graph: CostGraph, day: date, inputs: DayInputs
) -> tuple[dict[NodeKey, tuple[int, ...]], dict[FlowKey, tuple[int, str, float]]]:
    """Node rows and flows of a fresh one-day allocation of a date's inputs, read
    as `finops allocate` reads them (none without costs)."""
    engine, _ = build_engine(graph, day, inputs)
    if engine is None:
        return {}, {}
    figures = node_arrays(engine)
    names = ("direct", "indirect", "holistic", "allocated_out", "retained")
    ids, dims = engine.graph.ids, engine.dimensions
    nodes = {
        (ids[n], dims[k]): tuple(int(getattr(figures, f)[n, 0, k]) for f in names)
        for n, _, k in zip(
            *np.nonzero(figures.direct | figures.indirect | figures.allocated_out),
            strict=True,
        )
    }
    columns = flow_columns(engine)
    flows = {
        (ids[p], ids[c], dims[k]): (a, s, sh)
        for p, c, k, a, s, sh in zip(
            columns.parent.tolist(),
            columns.child.tolist(),
            columns.dimension.tolist(),
            columns.amount.tolist(),
            columns.strategy,
            columns.share.tolist(),
            strict=True,
        )
    }
    return nodes, flows


@pytest.mark.parametrize(("seed", "encode_from"), [(1, None), (2, None), (3, 0)])
def test_incremental_recomputes_store_what_a_fresh_allocation_gives(
    seed: int, encode_from: int | None
) -> None:
    _replay(Feed(seed), encode_from)


def test_parallel_edges_of_one_pair_still_store_what_a_fresh_allocation_gives() -> None:
    feed = Feed(4)
    edges = list(feed.spec.edges)
    first = edges[0]  # ends the day before DAY; a second edge to the same child starts
    edges[0] = first.model_copy(update={"active_to": DAY})
    edges.append(first.model_copy(update={"active_from": DAY, "active_to": None}))
    feed.spec = feed.spec.model_copy(update={"edges": edges})
    feed.graph = build_graph(feed.spec)
    assert feed.graph.parallel_edges
    assert not Feed(4).graph.parallel_edges
    _replay(feed, 0)


def test_a_set_is_stored_once_for_the_dimensions_it_is_the_same_in() -> None:
    feed = Feed(5, dimensions=3)  # some parents override their rules in storage
    overridden = {e.from_ for e in feed.spec.edges if e.dimensions}
    assert overridden
    live, stored = LiveDays(engines=4, frames=4), StoredDay()
    for node in feed.ids[:40]:
        for dim in DIMS:
            live.touch(DAY, feed.apply(feed.cost(node, dim, 2_000_000 + len(node))))
    computed = live.compute(feed.graph, DAY, feed.state.days[DAY], live.take(DAY))
    stored.write(computed.delta)
    assert (stored.nodes, stored.flows()) == _fresh(feed.graph, feed)
    parents = {parent for parent, _ in stored.shares}
    assert len(stored.shares) == len(parents) * len(DIMS)  # a set per dimension
    # stored: one set per parent, two for each parent with an override
    assert stored.share_rows == len(parents) + len(overridden & parents)
    _replay(feed, 0)


def _replay(feed: Feed, encode_from: int | None) -> None:
    """Random events, recomputed incrementally; what is stored always equals a fresh
    allocation."""
    live, stored = LiveDays(engines=4, frames=4), StoredDay()
    live.encode_nodes_from = encode_from  # changed node rows laid out for binary COPY
    for node in feed.ids[:40]:
        for dim in DIMS[:2]:
            live.touch(DAY, feed.apply(feed.cost(node, dim, 1_000_000 + len(node))))
    writes = 0
    for step in range(40):
        for _ in range(feed.rng.choice([1, 1, 3, 12, 40])):
            live.touch(DAY, feed.apply(feed.random_event()))
        computed = live.compute(feed.graph, DAY, feed.state.days[DAY], live.take(DAY))
        stored.write(computed.delta)
        writes += not computed.delta.complete
        nodes, flows = _fresh(feed.graph, feed)
        assert stored.nodes == nodes, f"step {step}"
        assert stored.flows() == flows, f"step {step}"  # to the micro-unit
    assert writes > 30  # most recomputes were incremental, not whole rewrites
    assert (
        stored.encoded_nodes > 0
        if encode_from is not None
        else not stored.encoded_nodes
    )


def test_a_new_dimension_rebuilds_the_engine_and_still_matches() -> None:
    feed = Feed(7)
    live, stored = LiveDays(engines=4, frames=4), StoredDay()
    live.touch(DAY, feed.apply(feed.cost(feed.ids[0], "compute", 7_000_000)))
    stored.write(
        live.compute(feed.graph, DAY, feed.state.days[DAY], live.take(DAY)).delta
    )
    live.touch(DAY, feed.apply(feed.cost(feed.ids[1], "licenses", 3_000_000)))
    computed = live.compute(feed.graph, DAY, feed.state.days[DAY], live.take(DAY))
    stored.write(computed.delta)
    nodes, flows = _fresh(feed.graph, feed)
    assert stored.nodes == nodes
    assert stored.flows() == flows
    assert {k for _, k in stored.nodes} == {"compute", "licenses"}


def test_a_forgotten_frame_is_written_whole_and_a_graph_change_rebuilds() -> None:
    feed = Feed(9)
    live, stored = LiveDays(engines=4, frames=4), StoredDay()
    live.touch(DAY, feed.apply(feed.cost(feed.ids[3], "compute", 9_000_000)))
    stored.write(
        live.compute(feed.graph, DAY, feed.state.days[DAY], live.take(DAY)).delta
    )
    live.forget(DAY)  # e.g. the write failed
    computed = live.compute(feed.graph, DAY, feed.state.days[DAY], Touched())
    assert computed.delta.complete
    stored.write(computed.delta)
    graph = build_graph(feed.spec)  # a new graph object: engines and frames realign
    computed = live.compute(graph, DAY, feed.state.days[DAY], Touched())
    delta = computed.delta
    assert not delta.complete and delta.plain.is_empty  # node rows compared by ids
    assert delta.shares.complete  # a new graph's plans: the date's shares rewritten
    stored.write(delta)
    assert (stored.nodes, stored.flows()) == _fresh(graph, feed)


def test_a_cost_change_writes_no_share_and_a_usage_change_only_replaced_plans() -> None:
    feed = Feed(4)
    live, stored = LiveDays(engines=4, frames=4), StoredDay()
    for node in feed.ids[:30]:
        live.touch(DAY, feed.apply(feed.cost(node, "compute", 2_000_000)))

    def compute() -> None:
        touched = live.take(DAY)
        delta = live.compute(feed.graph, DAY, feed.state.days[DAY], touched).delta
        stored.write(delta)
        assert (stored.nodes, stored.flows()) == _fresh(feed.graph, feed)

    compute()
    whole = stored.share_rows
    assert whole > 0  # the first write has every parent's shares
    live.touch(DAY, feed.apply(feed.cost(feed.ids[5], "compute", 123_456_789)))
    compute()
    assert stored.share_rows == whole  # a cost change moves no share
    for target in feed.targets[:10]:
        live.touch(DAY, feed.apply(feed.usage(target, 42.0)))
    compute()
    assert whole < stored.share_rows < 2 * whole  # the replaced plans only
