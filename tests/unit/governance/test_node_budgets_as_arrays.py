"""The array path for node budgets equals the scalar path, budget by budget."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from finops.domain.budgets import Basis, Budget, Scope, Threshold
from governance.evaluation import Reading, crossed
from governance.forecast import forecast_micros
from governance.nodebudgets import group_node_budgets

FIRST, END = date(2026, 11, 1), date(2026, 12, 1)
NODES = ["a", "b", "c"]

amounts = st.integers(min_value=-5 * 10**9, max_value=5 * 10**12)
thresholds = st.lists(
    st.builds(
        Threshold,
        percent=st.decimals(min_value=Decimal("0.0001"), max_value=1000, places=4),
        basis=st.sampled_from(list(Basis)),
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t.key(),
)


@settings(max_examples=150, deadline=None)
@given(
    daily=st.lists(st.lists(amounts, min_size=3, max_size=3), min_size=30, max_size=30),
    specs=st.lists(
        st.tuples(
            st.sampled_from([*NODES, "unknown"]),
            st.decimals(min_value=Decimal("0.01"), max_value=10**7, places=2),
            thresholds,
        ),
        min_size=1,
        max_size=6,
    ),
    as_of_offset=st.integers(min_value=-3, max_value=33),
    window=st.integers(min_value=1, max_value=10),
)
def test_spend_forecast_and_crossings_equal_the_scalar_path(
    daily: list[list[int]],
    specs: list[tuple[str, Decimal, list[Threshold]]],
    as_of_offset: int,
    window: int,
) -> None:
    budgets = [
        Budget(
            id=f"b{i}", name="b", amount=amount, scope=Scope(node=node), thresholds=ts
        )
        for i, (node, amount, ts) in enumerate(specs)
    ]
    (group,) = group_node_budgets(budgets)
    index = {n: i for i, n in enumerate(NODES)}
    matrix = np.array([[0, 0, 0], *daily], np.int64)
    cumulative = np.cumsum(matrix, axis=0)
    as_of = min(FIRST + timedelta(days=as_of_offset), END - timedelta(days=1))
    spent, forecast = group.spend(
        cumulative, index, first=FIRST, end=END, as_of=as_of, window=window
    )
    pairs = group.crossed(spent, forecast).tolist()
    k = 0
    for position, budget in enumerate(budgets):
        column = index.get(budget.scope.node or "")
        series = (
            {}
            if column is None
            else {FIRST + timedelta(days=d): daily[d][column] for d in range(30)}
        )
        expected_spent = sum(v for d, v in series.items() if d <= as_of)
        expected = forecast_micros(
            series, first=FIRST, end=END, as_of=as_of, window=window
        )
        if as_of < FIRST:
            expected_spent = expected = 0
        assert int(spent[position]) == expected_spent
        assert int(forecast[position]) == expected
        reading = Reading(budget, FIRST, END, as_of, expected_spent, expected)
        for threshold in budget.thresholds:
            assert pairs[k] == crossed(reading, threshold)
            k += 1


def test_nodes_without_stored_results_read_zero_even_with_no_results_at_all() -> None:
    budgets = [
        Budget(id="b", name="b", amount=Decimal(1), scope=Scope(node="new")),
        Budget(id="c", name="c", amount=Decimal(1), scope=Scope(node="a")),
    ]
    (group,) = group_node_budgets(budgets)
    for cumulative, index in (
        (np.zeros((31, 0), np.int64), {}),  # nothing stored yet
        (np.ones((31, 1), np.int64).cumsum(axis=0) - 1, {"a": 0}),
        (np.zeros((31, 1), np.int64), {"a": 0, "later": 1}),  # index grew since
    ):
        spent, forecast = group.spend(
            cumulative, index, first=FIRST, end=END, as_of=FIRST, window=7
        )
        assert int(spent[0]) == 0 and int(forecast[0]) == 0
