"""explain: the chain of flows behind a node's cost, down to direct costs."""

from __future__ import annotations

from finops.domain.allocation.explain import explain, render
from tests.support.allocation_builders import (
    DAY,
    edge,
    make_engine,
    make_spec,
    node,
    usage,
)


def test_a_diamond_is_explained_once_per_node() -> None:
    spec = make_spec(
        [node("r", "resource"), node("s1", "shared"), node("s2", "shared"), node("a")],
        [edge("r", "s1"), edge("r", "s2"), edge("s1", "a"), edge("s2", "a")],
    )
    engine = make_engine(spec, {"r": 1000})
    result = explain(engine, "a", DAY, "compute")
    assert result.holistic == 1000
    assert [(f.parent, f.amount, f.share) for f in result.inflows] == [
        ("s1", 500, 1.0),
        ("s2", 500, 1.0),
    ]
    assert (
        result.inflows[0].source.inflows[0].source
        is result.inflows[1].source.inflows[0].source
    )
    lines = render(result)
    assert sum("r 2025-03-01 compute" in line for line in lines) == 2
    assert (
        lines[-1].strip() == "r 2025-03-01 compute: holistic 0.001000 (explained above)"
    )


def test_usage_based_flows_show_the_usage_they_used() -> None:
    spec = make_spec(
        [node("s", "shared"), node("a"), node("b")],
        [edge("s", c, "proportional", metric="req") for c in "ab"],
    )
    engine = make_engine(spec, {"s": 400}, [usage("a", 1), usage("b", 3)])
    flow = explain(engine, "b", DAY, "compute").inflows[0]
    assert (flow.strategy, flow.metric, flow.usage, flow.share, flow.amount) == (
        "proportional",
        "req",
        3.0,
        0.75,
        300,
    )
