"""The documented worked examples, and conservation across levels with credits."""

from __future__ import annotations

from finops.domain.allocation.readout import flows_from, node_result, summarize
from finops.domain.records import NodeCost
from tests.support.allocation_builders import (
    DAY,
    edge,
    make_engine,
    make_spec,
    node,
    usage,
)


def test_capped_proportional_1000_with_usage_90_10_and_cap_50_gives_500_500() -> None:
    spec = make_spec(
        [node("db", "shared"), node("a"), node("b")],
        [edge("db", c, "capped_proportional", metric="req", cap=50) for c in "ab"],
    )
    engine = make_engine(spec, {"db": 1_000_000_000}, [usage("a", 90), usage("b", 10)])
    figures = [node_result(engine, c, DAY, "compute").holistic for c in "ab"]
    assert figures == [500_000_000, 500_000_000]
    assert summarize(engine).coverage == 1.0


def test_partial_product_roll_up_leaves_the_rest_unallocated() -> None:
    spec = make_spec(
        [node("shared", "shared"), node("a")],
        [edge("shared", "a", "fixed_percent", percent=60)],
    )
    engine = make_engine(spec, {"shared": 1_000_000_000})
    summary = summarize(engine)
    assert summary.allocated_to_products == 600_000_000
    assert summary.unallocated == 400_000_000
    assert summary.coverage == 0.6
    assert node_result(engine, "shared", DAY, "compute").retained == 400_000_000


def test_three_levels_with_a_credit_conserve_to_the_micro_unit() -> None:
    spec = make_spec(
        [
            node("vm", "resource"),
            node("cr", "resource"),
            node("k8s", "platform"),
            node("a"),
            node("b"),
            node("c"),
        ],
        [
            edge("vm", "k8s"),
            edge("cr", "k8s"),
            edge("k8s", "a", "proportional", metric="cpu"),
            edge("k8s", "b", "proportional", metric="cpu"),
            edge("k8s", "c", "proportional", metric="cpu"),
        ],
    )
    rows = [usage("a", 1, "cpu"), usage("b", 1, "cpu"), usage("c", 1, "cpu")]
    engine = make_engine(spec, {"vm": 1_000_001, "cr": -300_000}, rows)
    received = [node_result(engine, c, DAY, "compute").holistic for c in "abc"]
    assert received == [233_334, 233_334, 233_333]
    summary = summarize(engine)
    assert (summary.raw_total, summary.allocated_to_products, summary.unallocated) == (
        700_001,
        700_001,
        0,
    )


def test_node_figures_add_up() -> None:
    spec = make_spec(
        [node("r", "resource"), node("s", "shared"), node("a")],
        [edge("r", "s"), edge("s", "a", "fixed_percent", percent=50)],
    )
    costs = [
        NodeCost(node=n, date=DAY, dimension="compute", amount_micros=m)
        for n, m in (("r", 100), ("s", 20))
    ]
    engine = make_engine(spec, costs)
    s = node_result(engine, "s", DAY, "compute")
    assert (s.direct, s.indirect, s.holistic, s.allocated_out, s.retained) == (
        20,
        100,
        120,
        60,
        60,
    )


def test_flows_from_lists_each_out_edge() -> None:
    spec = make_spec(
        [node("s", "shared"), node("a"), node("b")],
        [edge("s", "a", "fixed_percent", percent=25), edge("s", "b")],
    )
    engine = make_engine(spec, {"s": 1000})
    flows = flows_from(engine, "s", DAY, "compute")
    assert [(f.child, f.amount, f.strategy, f.share) for f in flows] == [
        ("a", 250, "fixed_percent", 0.25),
        ("b", 750, "equal", 0.75),
    ]


def test_replaying_an_update_changes_nothing() -> None:
    spec = make_spec(
        [node("s", "shared"), node("a"), node("b")], [edge("s", "a"), edge("s", "b")]
    )
    engine = make_engine(spec, {"s": 1000})
    first = engine.set_node_cost("s", DAY, "compute", 2001)
    again = engine.set_node_cost("s", DAY, "compute", 2001)
    assert first.cells == frozenset({(DAY, "compute")})
    assert again.cells == frozenset()
    assert summarize(engine).allocated_to_products == 2001
