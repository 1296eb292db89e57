"""Each strategy's formula, on one parent and one day, through the engine."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import pytest

from finops.domain.allocation.engine import AllocationEngine
from finops.domain.allocation.readout import node_result, summarize
from finops.domain.records import NodeCost, UsageRecord
from tests.support.allocation_builders import (
    DAY,
    edge,
    make_engine,
    make_spec,
    node,
    usage,
)


def _split(
    edges: list[dict[str, Any]],
    rows: Sequence[UsageRecord] = (),
    amount: int = 1000,
    **kw: Any,
) -> AllocationEngine:
    children = sorted({e["to"] for e in edges})
    spec = make_spec([node("p", "shared"), *(node(c) for c in children)], edges)
    return make_engine(spec, {"p": amount}, rows, **kw)


def _received(engine: AllocationEngine, *children: str, day: date = DAY) -> list[int]:
    return [node_result(engine, c, day, "compute").indirect for c in children]


def test_equal_gives_each_child_the_same_share() -> None:
    engine = _split([edge("p", c) for c in "abc"], amount=900)
    assert _received(engine, "a", "b", "c") == [300, 300, 300]


def test_fixed_percent_comes_first_and_the_rest_is_shared_equally() -> None:
    edges = [
        edge("p", "a", "fixed_percent", percent=40),
        edge("p", "b"),
        edge("p", "c"),
    ]
    assert _received(_split(edges), "a", "b", "c") == [400, 300, 300]


@pytest.mark.parametrize("name", ["proportional", "proportional_on"])
def test_proportional_follows_usage(name: str) -> None:
    edges = [edge("p", c, name, metric="req") for c in "ab"]
    engine = _split(edges, [usage("a", 1), usage("b", 2), usage("b", 1)])
    assert _received(engine, "a", "b") == [250, 750]


def test_weighted_average_uses_the_mean_of_days_with_rows() -> None:
    edges = [
        edge("p", c, "weighted_average", metric="req", window_days=3) for c in "ab"
    ]
    day3 = DAY + timedelta(days=2)
    rows = [usage("a", 30), usage("a", 10, day=day3), usage("b", 60, day=day3)]
    costs = [NodeCost(node="p", date=day3, dimension="compute", amount_micros=1000)]
    engine = _split(edges, rows, days=3)
    engine.set_node_cost("p", day3, "compute", 1000)
    assert costs and _received(engine, "a", "b", day=day3) == [250, 750]


def test_segment_filter_counts_only_matching_rows() -> None:
    segment = {"label": "env", "operator": "eq", "value": "prod"}
    edges = [
        edge(
            "p",
            c,
            "segment_filtered_proportional",
            metric="req",
            segment_filter=segment,
        )
        for c in "ab"
    ]
    rows = [
        usage("a", 30, env="prod"),
        usage("a", 70, env="dev"),
        usage("b", 10, env="prod"),
    ]
    assert _received(_split(edges, rows), "a", "b") == [750, 250]


@pytest.mark.parametrize(
    ("operator", "extra", "expected"),
    [
        ("neq", {"value": "prod"}, [1000, 0]),
        ("in", {"values": ["prod", "qa"]}, [0, 1000]),
        ("not_in", {"values": ["prod"]}, [1000, 0]),
        ("exists", {}, [0, 1000]),
        ("not_exists", {}, [1000, 0]),
    ],
)
def test_segment_filter_operators(
    operator: str, extra: dict[str, Any], expected: list[int]
) -> None:
    segment = {"label": "env", "operator": operator, **extra}
    edges = [
        edge(
            "p",
            c,
            "segment_filtered_proportional",
            metric="req",
            segment_filter=segment,
        )
        for c in "ab"
    ]
    rows = [usage("a", 5), usage("b", 5, env="prod")]
    assert _received(_split(edges, rows), "a", "b") == expected


def test_capped_proportional_respreads_the_excess() -> None:
    edges = [edge("p", c, "capped_proportional", metric="req", cap=50) for c in "abc"]
    rows = [usage("a", 80), usage("b", 10), usage("c", 10)]
    assert _received(_split(edges, rows), "a", "b", "c") == [500, 250, 250]


def test_capped_proportional_retains_what_no_edge_can_take() -> None:
    edges = [edge("p", c, "capped_proportional", metric="req", cap=30) for c in "ab"]
    engine = _split(edges, [usage("a", 1), usage("b", 1)])
    assert _received(engine, "a", "b") == [300, 300]
    assert node_result(engine, "p", DAY, "compute").retained == 400


def test_hybrid_mixes_an_even_part_and_a_usage_part() -> None:
    edges = [
        edge("p", c, "hybrid_fixed_proportional", metric="req", fixed_percent=50)
        for c in "ab"
    ]
    assert _received(_split(edges, [usage("a", 1), usage("b", 3)]), "a", "b") == [
        375,
        625,
    ]


def test_min_floor_guarantees_each_child_its_floor() -> None:
    edges = [
        edge("p", c, "min_floor_proportional", metric="req", min_floor_percent=10)
        for c in "ab"
    ]
    assert _received(_split(edges, [usage("a", 0), usage("b", 1)]), "a", "b") == [
        100,
        900,
    ]


def test_min_floor_splits_evenly_when_floors_cover_everything() -> None:
    edges = [
        edge("p", c, "min_floor_proportional", metric="req", min_floor_percent=60)
        for c in "ab"
    ]
    assert _received(_split(edges, [usage("a", 0), usage("b", 1)]), "a", "b") == [
        500,
        500,
    ]


def test_residual_to_max_goes_to_the_top_user_ties_to_smallest_id() -> None:
    edges = [edge("p", c, "residual_to_max", metric="req") for c in "abc"]
    rows = [usage("a", 5), usage("b", 5), usage("c", 1)]
    assert _received(_split(edges, rows), "a", "b", "c") == [1000, 0, 0]


def test_zero_usage_falls_back_to_equal_by_default() -> None:
    edges = [edge("p", c, "proportional", metric="req") for c in "ab"]
    assert _received(_split(edges), "a", "b") == [500, 500]


def test_zero_usage_with_unallocated_fallback_is_retained() -> None:
    edges = [
        edge("p", c, "proportional", metric="req", fallback="unallocated") for c in "ab"
    ]
    engine = _split(edges)
    assert _received(engine, "a", "b") == [0, 0]
    assert summarize(engine).unallocated == 1000


def test_inactive_edges_take_nothing() -> None:
    later = DAY + timedelta(days=1)
    edges = [edge("p", "a"), edge("p", "b", active_from=later.isoformat())]
    engine = _split(edges, days=2)
    engine.set_node_cost("p", later, "compute", 1000)
    assert _received(engine, "a", "b") == [1000, 0]
    assert _received(engine, "a", "b", day=later) == [500, 500]


def test_dimension_override_changes_the_strategy_for_that_dimension() -> None:
    override = {"storage": {"strategy": "fixed_percent", "params": {"percent": 100}}}
    edges = [
        edge("p", "a", "equal", dimensions=override),
        edge(
            "p",
            "b",
            dimensions={
                "storage": {"strategy": "fixed_percent", "params": {"percent": 0}}
            },
        ),
    ]
    spec = make_spec([node("p", "shared"), node("a"), node("b")], edges)
    costs = [
        NodeCost(node="p", date=DAY, dimension=d, amount_micros=1000)
        for d in ("compute", "storage")
    ]
    engine = make_engine(spec, costs, dimensions=["compute", "storage"])
    assert node_result(engine, "a", DAY, "compute").indirect == 500
    assert node_result(engine, "a", DAY, "storage").indirect == 1000
