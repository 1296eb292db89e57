"""Invalid graphs and inputs are errors that say what and where, never warnings."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from finops.domain.allocation.engine import AllocationEngine
from finops.domain.dag import build_graph
from finops.errors import GraphError, InputError
from tests.support.allocation_builders import edge, make_engine, make_spec, node

NODES = [node("r", "resource"), node("s", "shared"), node("a"), node("b")]


def _engine(edges: list[dict[str, Any]]) -> AllocationEngine:
    return make_engine(make_spec(NODES, edges), {"r": 100})


def test_a_cycle_is_rejected_and_printed() -> None:
    with pytest.raises(GraphError, match=r"cycle in cost graph: a -> b -> s -> a"):
        _engine([edge("r", "s"), edge("s", "a"), edge("a", "b"), edge("b", "s")])


def test_a_self_loop_is_rejected() -> None:
    with pytest.raises(GraphError, match="self-loop on node 's'"):
        _engine([edge("s", "s")])


def test_an_edge_to_an_unknown_node_is_rejected() -> None:
    with pytest.raises(GraphError, match="unknown node 'zz'"):
        _engine([edge("s", "zz")])


def test_a_duplicate_edge_with_overlapping_activity_is_rejected() -> None:
    edges = [
        edge("s", "a", active_to="2025-03-10"),
        edge("s", "a", active_from="2025-03-05"),
    ]
    with pytest.raises(GraphError, match="duplicate edge s -> a"):
        _engine(edges)


def test_a_duplicate_edge_with_disjoint_activity_is_accepted() -> None:
    engine = _engine(
        [
            edge("s", "a", active_to="2025-03-05"),
            edge("s", "a", active_from="2025-03-05"),
        ]
    )
    kept = [
        (e.from_, e.to, e.active_from, e.active_to) for e in engine.graph.spec.edges
    ]
    assert kept == [
        ("s", "a", None, date(2025, 3, 5)),
        ("s", "a", date(2025, 3, 5), None),
    ]


def test_an_unknown_strategy_is_rejected() -> None:
    with pytest.raises(GraphError, match="unknown strategy 'magic'"):
        _engine([edge("s", "a", "magic")])


@pytest.mark.parametrize("percent", [-1, 100.5, "50"])
def test_a_percent_outside_0_to_100_is_rejected(percent: Any) -> None:
    with pytest.raises(GraphError, match=r"params\.percent"):
        _engine([edge("s", "a", "fixed_percent", percent=percent)])


def test_a_cap_outside_0_to_100_is_rejected() -> None:
    with pytest.raises(GraphError, match=r"params\.cap = 150"):
        _engine([edge("s", "a", "capped_proportional", metric="m", cap=150)])


def test_fixed_percents_above_100_on_some_day_are_rejected() -> None:
    edges = [
        edge("s", "a", "fixed_percent", percent=60),
        edge("s", "b", "fixed_percent", percent=50, active_from="2025-04-01"),
    ]
    with pytest.raises(GraphError, match="fixed percents exceed 100 on 2025-04-01"):
        _engine(edges)


def test_fixed_percents_on_disjoint_days_may_each_reach_100() -> None:
    edges = [
        edge("s", "a", "fixed_percent", percent=100, active_to="2025-04-01"),
        edge("s", "b", "fixed_percent", percent=100, active_from="2025-04-01"),
    ]
    engine = _engine(edges)
    kept = [(e.to, e.params["percent"]) for e in engine.graph.spec.edges]
    assert sorted(kept) == [("a", 100), ("b", 100)]


def test_mixed_strategies_from_one_parent_are_rejected() -> None:
    with pytest.raises(GraphError, match="mix strategies or metrics"):
        _engine([edge("s", "a"), edge("s", "b", "proportional", metric="m")])


def test_mixed_metrics_from_one_parent_are_rejected() -> None:
    edges = [
        edge("s", "a", "proportional", metric="m"),
        edge("s", "b", "proportional", metric="n"),
    ]
    with pytest.raises(GraphError, match="mix strategies or metrics"):
        _engine(edges)


def test_mixed_strategies_in_a_dimension_override_are_rejected() -> None:
    dims = {"storage": {"strategy": "proportional", "params": {"metric": "m"}}}
    with pytest.raises(GraphError, match=r"\(dimension storage\): out-edges mix"):
        _engine([edge("s", "a", dimensions=dims), edge("s", "b")])


@pytest.mark.parametrize(
    "strategy",
    ["proportional", "weighted_average", "capped_proportional", "residual_to_max"],
)
def test_a_usage_strategy_without_metric_is_rejected(strategy: str) -> None:
    with pytest.raises(GraphError, match=r"needs params\.metric"):
        _engine([edge("s", "a", strategy, cap=50)])


def test_an_unknown_segment_operator_is_rejected() -> None:
    segment = {"label": "env", "operator": "like", "value": "x"}
    with pytest.raises(GraphError, match="segment_filter operator 'like'"):
        _engine(
            [
                edge(
                    "s",
                    "a",
                    "segment_filtered_proportional",
                    metric="m",
                    segment_filter=segment,
                )
            ]
        )


def test_a_bad_fallback_is_rejected() -> None:
    with pytest.raises(GraphError, match="fallback"):
        _engine([edge("s", "a", "proportional", metric="m", fallback="drop")])


def test_costs_for_an_unknown_node_are_rejected() -> None:
    with pytest.raises(InputError, match="unknown node 'ghost'"):
        make_engine(make_spec(NODES, []), {"ghost": 5})


def test_duplicate_node_ids_are_rejected() -> None:
    with pytest.raises(GraphError, match="duplicate node id 'a'"):
        build_graph(make_spec([node("a"), node("a")], []))
