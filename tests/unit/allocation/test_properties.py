"""Properties: exact conservation, incremental equals full, row order is irrelevant."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from typing import Any
from unittest.mock import patch

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops.domain.allocation import engine as engine_module
from finops.domain.allocation import propagation
from finops.domain.allocation.engine import AllocationEngine, ChangeSet
from finops.domain.allocation.frames import capture
from finops.domain.allocation.readout import node_arrays, summarize
from finops.domain.allocation.tables import UsageTable
from finops.domain.dag import EdgeSpec, GraphSpec
from finops.domain.periods import DayRange
from finops.domain.records import NodeCost, UsageRecord
from finops.errors import GraphError
from tests.support.allocation_builders import DAY, make_engine, usage_patch

DIMS = ["compute", "storage"]
DAYS = 3
TYPES = ["resource", "shared", "platform", "product"]
GROUPS: list[tuple[str, dict[str, Any]]] = [
    ("equal", {}),
    ("proportional", {"metric": "req"}),
    ("proportional", {"metric": "req", "fallback": "unallocated"}),
    ("weighted_average", {"metric": "req", "window_days": 2}),
    (
        "segment_filtered_proportional",
        {
            "metric": "req",
            "segment_filter": {"label": "env", "operator": "eq", "value": "prod"},
        },
    ),
    ("capped_proportional", {"metric": "req", "cap": 40}),
    ("hybrid_fixed_proportional", {"metric": "req", "fixed_percent": 30}),
    ("min_floor_proportional", {"metric": "req", "min_floor_percent": 20}),
    ("residual_to_max", {"metric": "req"}),
    ("proportional", {"metric": "cpu"}),  # kept when only "req" usage changes
]
Org = tuple[GraphSpec, list[NodeCost], list[UsageRecord]]
PROPS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def orgs(draw: st.DrawFn) -> Org:
    """A small layered organisation with mixed strategies, credits and usage."""
    n = draw(st.integers(3, 8))
    layers = sorted(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    nodes = [{"id": f"n{i}", "type": TYPES[layers[i]]} for i in range(n)]
    edges = []
    for i in range(n):
        later = [j for j in range(n) if layers[j] > layers[i]]
        children = (
            draw(st.lists(st.sampled_from(later), unique=True, max_size=4))
            if later
            else []
        )
        strategy, params = draw(st.sampled_from(GROUPS))
        fixed = draw(st.booleans()) and len(children) > 1
        override = draw(st.integers(0, 4)) == 0
        for pos, j in enumerate(sorted(children)):
            edge = {
                "from": f"n{i}",
                "to": f"n{j}",
                "strategy": strategy,
                "params": params,
            }
            if fixed and pos == 0:
                edge.update(
                    strategy="fixed_percent",
                    params={"percent": draw(st.integers(0, 100))},
                )
            if draw(st.integers(0, 5)) == 0:
                edge["active_from"] = (
                    DAY + timedelta(days=draw(st.integers(1, DAYS)))
                ).isoformat()
            if override and not (fixed and pos == 0):
                edge["dimensions"] = {"storage": {"strategy": "equal"}}
            edges.append(edge)
    spec = GraphSpec.model_validate({"nodes": nodes, "edges": edges})
    amount = st.integers(-(10**9), 10**10)
    costs = [
        NodeCost(
            node=f"n{i}",
            date=DAY + timedelta(days=t),
            dimension=d,
            amount_micros=draw(amount),
        )
        for i in range(n)
        for t in range(DAYS)
        for d in DIMS
        if draw(st.integers(0, 2))
    ]
    usage = [
        UsageRecord(
            node=f"n{i}",
            date=DAY + timedelta(days=t),
            metric="req",
            value=draw(st.integers(0, 50)),
            labels={"env": draw(st.sampled_from(["prod", "dev"]))},
        )
        for i in range(n)
        for t in range(-1, DAYS)
        for _ in range(draw(st.integers(0, 2)))
    ]
    return spec, costs, usage


def _engine(
    spec: GraphSpec, costs: list[NodeCost], usage: list[UsageRecord]
) -> AllocationEngine:
    return make_engine(spec, costs, usage, days=DAYS, dimensions=DIMS)


def _same(a: AllocationEngine, b: AllocationEngine) -> None:
    x, y = node_arrays(a), node_arrays(b)
    for name in ("direct", "indirect", "allocated_out", "retained"):
        assert np.array_equal(getattr(x, name), getattr(y, name)), name
    for engine in (a, b):  # what a short engine keeps passed on, after any update
        if engine.state.out is not None:  # not kept by long-range passes
            kept = capture(engine, flows=False).figures
            assert np.array_equal(kept, capture(engine).figures)


@PROPS
@given(orgs())
def test_every_split_day_and_the_summary_conserve_exactly(org: Org) -> None:
    engine = _engine(*org)
    arrays = node_arrays(engine)
    assert np.array_equal(arrays.retained.sum(axis=0), arrays.direct.sum(axis=0))
    for parent, flows in engine.state.flows.items():
        total = flows.sum(axis=0) + arrays.retained[parent]
        assert np.array_equal(total, arrays.holistic[parent])
    summary = summarize(engine)
    assert summary.raw_total == summary.allocated_to_products + summary.unallocated
    assert summary.raw_total == sum(c.amount_micros for c in org[1])


@PROPS
@given(orgs(), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_row_order(org: Org, rnd: random.Random) -> None:
    spec, costs, usage = org
    shuffled_costs, shuffled_usage = list(costs), list(usage)
    rnd.shuffle(shuffled_costs)
    rnd.shuffle(shuffled_usage)
    _same(_engine(spec, costs, usage), _engine(spec, shuffled_costs, shuffled_usage))


@st.composite
def updates(draw: st.DrawFn, n_nodes: int) -> list[tuple[Any, ...]]:
    node = st.integers(0, n_nodes - 1).map(lambda i: f"n{i}")
    day = st.integers(0, DAYS - 1).map(lambda t: DAY + timedelta(days=t))
    cost = st.tuples(
        st.just("cost"), node, day, st.sampled_from(DIMS), st.integers(-(10**9), 10**10)
    )
    use = st.tuples(
        st.just("usage"),
        node,
        day,
        st.integers(0, 60),
        st.sampled_from(["prod", "dev"]),
    )
    link = st.tuples(st.just("edge"), node, node, st.sampled_from(GROUPS))
    return draw(st.lists(st.one_of(cost, use, link), min_size=1, max_size=6))


def _long_range_pass(on: bool) -> AbstractContextManager[object]:
    """The full pass of engines with many cells per node (shares written into the
    split's scratch, flows as views of a batch's parts), on these small engines."""
    return patch.object(propagation, "_KEEP_SHARES_CELLS", 0) if on else nullcontext()


@PROPS
@given(orgs())
def test_the_long_range_full_pass_gives_the_kept_shares_results(org: Org) -> None:
    spec, costs, usage = org
    kept = _engine(spec, costs, usage)
    days = DayRange(first=DAY, last=DAY + timedelta(days=DAYS - 1))
    with _long_range_pass(True), ThreadPoolExecutor(1) as pool:
        long = _engine(spec, costs, usage)
        # The plans' share batches computed, and each level's batches split, on
        # two threads: the same bits.
        both = AllocationEngine.from_records(
            spec, costs, usage, days=days, dimensions=DIMS, executor=pool
        )
    for other in (long, both):
        _same(kept, other)
        _same_flows(kept, other)
        for p, plan in kept.state.plans.items():
            np.testing.assert_array_equal(plan.shares, other.state.plans[p].shares)


@PROPS
@given(st.data())
def test_incremental_updates_equal_a_full_recompute(data: st.DataObject) -> None:
    with _long_range_pass(data.draw(st.booleans(), label="long range pass")):
        _incremental_updates_equal_a_full_recompute(data)


def _incremental_updates_equal_a_full_recompute(data: st.DataObject) -> None:
    spec, costs, usage = data.draw(orgs())
    engine = _engine(spec, costs, usage)
    model_costs = {(c.node, c.date, c.dimension): c for c in costs}
    model_usage = list(usage)
    for change in data.draw(updates(len(spec.nodes))):
        arrays = node_arrays(engine)
        before = {
            k: getattr(arrays, k).copy()
            for k in ("indirect", "retained", "allocated_out")
        }
        if change[0] == "cost":
            _, node, day, dim, micros = change
            changed = engine.set_node_cost(node, day, dim, micros)
            model_costs[(node, day, dim)] = NodeCost(
                node=node, date=day, dimension=dim, amount_micros=micros
            )
        elif change[0] == "usage":
            _, node, day, value, env = change
            changed = engine.set_usage(node, day, "req", value, {"env": env})
            model_usage = [
                u
                for u in model_usage
                if (u.node, u.date, u.metric) != (node, day, "req")
            ]
            model_usage.append(
                UsageRecord(
                    node=node, date=day, metric="req", value=value, labels={"env": env}
                )
            )
        else:
            _, src, dst, (strategy, params) = change
            new = EdgeSpec.model_validate(
                {"from": src, "to": dst, "strategy": strategy, "params": params}
            )
            try:
                changed = engine.upsert_edge(new)
            except GraphError:
                continue
        _check_reported(engine, before, changed)
    final_spec = engine.graph.spec
    assert isinstance(final_spec, GraphSpec)  # built from one, edges upserted
    _same(engine, _engine(final_spec, list(model_costs.values()), model_usage))


def _check_reported(
    engine: AllocationEngine, before: dict[str, Any], changed: ChangeSet
) -> None:
    """Every cell whose figures moved is in the change set."""
    after = node_arrays(engine)
    cells = {(engine.days.index_of(d), DIMS.index(k)) for d, k in changed.cells}
    for name, old in before.items():
        moved = np.argwhere((getattr(after, name) != old).any(axis=0))
        assert {(int(t), int(k)) for t, k in moved} <= cells


@PROPS
@given(orgs(), st.data())
def test_removing_an_edge_equals_a_graph_without_it(
    org: Org, data: st.DataObject
) -> None:
    spec, costs, usage = org
    if not spec.edges:
        return
    gone = data.draw(st.sampled_from(spec.edges))
    engine = _engine(spec, costs, usage)
    engine.remove_edge(gone.from_, gone.to, gone.active_from)
    rest = GraphSpec(nodes=spec.nodes, edges=[e for e in spec.edges if e is not gone])
    _same(engine, _engine(rest, costs, usage))


@PROPS
@given(st.data())
def test_a_batched_update_equals_a_full_recompute(data: st.DataObject) -> None:
    """update(costs, usage, nodes): many changes in one pass, as a fresh engine."""
    spec, costs, usage = data.draw(orgs())
    engine = _engine(spec, costs, usage)
    model_costs = {(c.node, c.date, c.dimension): c for c in costs}
    model_usage = list(usage)
    changes = [c for c in data.draw(updates(len(spec.nodes))) if c[0] != "edge"]
    cost_rows, usage_nodes = [], set()
    for change in changes:
        if change[0] == "cost":
            _, node, day, dim, micros = change
            cost_rows.append((node, day, dim, micros))
            model_costs[(node, day, dim)] = NodeCost(
                node=node, date=day, dimension=dim, amount_micros=micros
            )
        else:
            _, node, day, value, env = change
            usage_nodes.add(node)
            model_usage = [
                u
                for u in model_usage
                if (u.node, u.date, u.metric) != (node, day, "req")
            ]
            model_usage.append(
                UsageRecord(
                    node=node, date=day, metric="req", value=value, labels={"env": env}
                )
            )
    table = UsageTable.from_records(model_usage) if usage_nodes else None
    metrics = data.draw(st.sampled_from([None, {"req"}]))  # only "req" changes
    with _maybe_full_pass(data):
        engine.update(cost_rows, table, usage_nodes, metrics)
    fresh = _engine(spec, list(model_costs.values()), model_usage)
    _same(engine, fresh)
    _same_flows(engine, fresh)


def _maybe_full_pass(data: st.DataObject) -> AbstractContextManager[Any]:
    """Maybe no seed threshold: every update then takes the full pass, the path
    of the stream's busy dates (hundreds of changed nodes per pass)."""
    if data.draw(st.booleans()):
        return patch.object(engine_module, "_FULL_PASS_SEEDS", 0)
    return nullcontext()


def _same_flows(a: AllocationEngine, b: AllocationEngine) -> None:
    assert a.state.flows.keys() == b.state.flows.keys()
    for parent, flows in a.state.flows.items():
        assert np.array_equal(flows, b.state.flows[parent]), parent


_AWKWARD = [0.0, 0.1, 0.2, 0.3, 3.0, 7.7, 1e16]  # sums that depend on their order


@st.composite
def node_usage(draw: st.DrawFn, node: str) -> list[UsageRecord]:
    """Every usage row of one node, drawn anew (maybe none)."""
    return [
        UsageRecord(
            node=node,
            date=DAY + timedelta(days=draw(st.integers(-2, DAYS))),
            metric=draw(st.sampled_from(["req", "cpu"])),
            value=draw(st.sampled_from(_AWKWARD)),
            labels={"env": draw(st.sampled_from(["prod", "dev"]))},
        )
        for _ in range(draw(st.integers(0, 4)))
    ]


@PROPS
@given(st.data())
def test_usage_patches_equal_a_full_recompute(data: st.DataObject) -> None:
    """update(usage_patch=...): some nodes' rows replaced, only the parents that see
    a changed cell rebuilt; equal to a fresh engine, over several patches and a
    later rule that reads a matrix the view had not built."""
    spec, costs, usage = data.draw(orgs())
    engine = _engine(spec, costs, usage)
    model_usage = list(usage)
    ids = [n.id for n in spec.nodes]
    for _ in range(data.draw(st.integers(1, 3))):
        chosen = data.draw(st.lists(st.sampled_from(ids), unique=True, max_size=4))
        new = {n: data.draw(node_usage(n)) for n in chosen}
        cost_rows = [
            (n, DAY + timedelta(days=t), d, data.draw(st.integers(0, 10**9)))
            for n, t, d in data.draw(
                st.lists(
                    st.tuples(
                        st.sampled_from(ids),
                        st.integers(0, DAYS - 1),
                        st.sampled_from(DIMS),
                    ),
                    max_size=3,
                )
            )
        ]
        with _maybe_full_pass(data):
            engine.update(cost_rows, usage_patch=usage_patch(engine, model_usage, new))
        model_usage = [u for u in model_usage if u.node not in new]
        model_usage += [u for rows in new.values() for u in rows]
        model_costs = {(c.node, c.date, c.dimension): c for c in costs}
        for n, day, d, micros in cost_rows:
            model_costs[(n, day, d)] = NodeCost(
                node=n, date=day, dimension=d, amount_micros=micros
            )
        costs = list(model_costs.values())
        fresh = _engine(spec, costs, model_usage)
        _same(engine, fresh)
        _same_flows(engine, fresh)
    rewire = data.draw(st.booleans())
    if spec.edges and rewire:
        edge = data.draw(st.sampled_from(spec.edges))
        new_edge = EdgeSpec.model_validate(
            {
                "from": edge.from_,
                "to": edge.to,
                "strategy": "weighted_average",
                "params": {"metric": "cpu", "window_days": 3},
                "active_from": edge.active_from,
            }
        )
        try:
            engine.upsert_edge(new_edge)
        except GraphError:  # rules the parent's other edges do not allow
            return
        assert isinstance(engine.graph.spec, GraphSpec)
        _same(engine, _engine(engine.graph.spec, costs, model_usage))
