"""Heads built together from arrays equal heads built parent by parent, errors too."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops.domain.allocation.plans import Head, _head, _plain_heads
from finops.domain.allocation.tables import to_day_numbers
from finops.domain.costgraph import EdgeFields
from finops.domain.dag import EdgeSpec, build_graph
from finops.errors import GraphError
from tests.support.allocation_builders import DAY, edge, make_engine, make_spec, node

DIMS = ["compute", "storage"]
GROUPS: list[tuple[str, dict[str, Any]]] = [
    ("equal", {}),
    ("proportional", {"metric": "req"}),
    ("proportional", {"metric": "req", "fallback": "unallocated"}),
    ("weighted_average", {"metric": "req", "window_days": 2}),
    ("capped_proportional", {"metric": "cpu", "cap": 40}),
    ("min_floor_proportional", {"metric": "req", "min_floor_percent": 20}),
    ("residual_to_max", {"metric": "req"}),
    ("unknown_strategy", {}),
    ("proportional", {}),  # no metric: a defect
]
DAYS = to_day_numbers([DAY + timedelta(days=i) for i in range(4)])


@st.composite
def parents(draw: st.DrawFn) -> list[list[EdgeSpec]]:
    """Out-edges of a few parents: mixed groups, fixed percents, windows, defects."""
    lists = []
    for p in range(draw(st.integers(1, 6))):
        count = draw(st.integers(1, 5))
        edges = []
        for c in range(count):
            strategy, params = draw(st.sampled_from(GROUPS[:7] * 6 + GROUPS[7:]))
            if draw(st.integers(0, 4)) == 0:
                strategy, params = (
                    "fixed_percent",
                    {"percent": draw(st.integers(0, 80))},
                )
            extra: dict[str, Any] = {}
            if draw(st.integers(0, 3)) == 0:
                extra["active_from"] = DAY + timedelta(days=draw(st.integers(-1, 3)))
            edges.append(
                EdgeSpec.model_validate(
                    edge(f"p{p}", f"c{c}", strategy, **params, **extra)
                )
            )
        lists.append(edges)
    return lists


def _one_by_one(
    lists: Sequence[Sequence[EdgeFields]], index: dict[str, int]
) -> list[Head]:
    return [_head(edges, index, DIMS, DAYS) for edges in lists]


def _same(a: Head, b: Head) -> None:
    assert np.array_equal(a.children, b.children)
    assert np.array_equal(a.dim_config, b.dim_config)
    assert a.config_rules == b.config_rules
    assert np.array_equal(a.active, b.active)
    assert a.uses_usage == b.uses_usage
    for x, y in zip(a.configs, b.configs, strict=True):
        assert (x.rules, x.strategy) == (y.rules, y.strategy)
        for field in ("fixed", "percent", "equal_fallback", "usage_codes"):
            assert np.array_equal(getattr(x, field), getattr(y, field)), field


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parents())
def test_heads_built_together_equal_heads_built_one_by_one(
    lists: list[list[EdgeSpec]],
) -> None:
    index = {f"c{c}": c for c in range(5)}
    try:
        expected = _one_by_one(lists, index)
    except GraphError:
        with pytest.raises(GraphError):
            _plain_heads(lists, index, len(DIMS), DAYS)
        return
    for got, want in zip(
        _plain_heads(lists, index, len(DIMS), DAYS), expected, strict=True
    ):
        _same(got, want)


PROPORTIONAL = {"strategy": "proportional", "params": {"metric": "m"}}
FIXED_40 = {"strategy": "fixed_percent", "params": {"percent": 40}}
NODES = [node(n, "shared") for n in ("s1", "s2", "s3")] + [node("a"), node("b")]


@pytest.mark.parametrize(
    ("edges", "message"),
    [
        # s1 mixes strategies, s2 names an unknown one: s1 is named (it comes first).
        (
            [
                edge("s1", "a"),
                edge("s1", "b", "proportional", metric="m"),
                edge("s2", "a", "nonesuch"),
                edge("s3", "a"),
            ],
            r"^node s1: out-edges mix strategies or metrics$",
        ),
        (
            [
                edge("s1", "a", "nonesuch"),
                edge("s2", "a"),
                edge("s2", "b", "proportional", metric="m"),
                edge("s3", "a"),
            ],
            r"^edge s1 -> a: unknown strategy 'nonesuch'$",
        ),
        (
            [
                edge("s1", "a"),
                edge("s2", "a", "fixed_percent", percent=70),
                edge("s2", "b", "fixed_percent", percent=40),
                edge("s3", "a", "proportional"),
            ],
            r"^node s2: fixed percents exceed 100 from the start$",
        ),
        # An override of a dimension the costs lack is checked all the same.
        (
            [
                edge("s1", "a"),
                edge("s1", "b", dimensions={"network": PROPORTIONAL}),
                edge("s2", "a"),
                edge("s3", "a"),
            ],
            r"^node s1 \(dimension network\): out-edges mix strategies or metrics$",
        ),
        (
            [
                edge("s1", "a"),
                edge("s2", "a", dimensions={"storage": {"strategy": "nonesuch"}}),
                edge("s3", "a", "fixed_percent", percent=70),
                edge("s3", "b", dimensions={"compute": FIXED_40}),
            ],
            r"^edge s2 -> a \(dimension storage\): unknown strategy 'nonesuch'$",
        ),
        (
            [
                edge("s1", "a"),
                edge("s2", "a"),
                edge("s3", "a", "fixed_percent", percent=70),
                edge(
                    "s3",
                    "b",
                    "fixed_percent",
                    percent=10,
                    dimensions={"compute": FIXED_40},
                ),
            ],
            r"^node s3 \(dimension compute\): fixed percents exceed 100 from the start",
        ),
    ],
)
def test_the_first_defective_parent_is_named_as_one_by_one(
    edges: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(GraphError, match=message):
        make_engine(make_spec(NODES, edges), {"s1": 100}, dimensions=DIMS)
    graph = build_graph(make_spec(NODES, edges))
    with pytest.raises(GraphError, match=message):
        _one_by_one(list(graph.out_edges.values()), graph.index)
