"""Allocated charges: where a node's direct cost ended, split exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from finops.domain.focus.allocated import DayAllocation, apportion


def _day() -> DayAllocation:
    day = DayAllocation()
    # r (100) -> s 60, p1 40; s (60 + 20 direct = 80) -> p1 40, p2 20, keeps 20
    for node, holistic, retained in (
        ("r", 100, 0),
        ("s", 80, 20),
        ("p1", 80, 80),
        ("p2", 20, 20),
    ):
        day.add_node(node, holistic, retained)
    day.add_flow("r", "s", 60, "equal")
    day.add_flow("r", "p1", 40, "equal")
    day.add_flow("s", "p1", 40, "proportional")
    day.add_flow("s", "p2", 20, "proportional")
    return day


def test_parts_follow_the_flows_and_sum_to_one() -> None:
    parts = _day().parts("r")
    assert parts == {
        "s": 0.6 * 0.25,
        "p1": 0.4 + 0.6 * 0.5,
        "p2": 0.6 * 0.25,
    }
    assert abs(sum(parts.values()) - 1) < 1e-12
    assert _day().parts("p2") == {"p2": 1.0}
    assert _day().parts("unknown") == {"unknown": 1.0}
    assert _day().strategies_into("p1") == ["equal", "proportional"]


@given(
    st.integers(-(10**15), 10**15),
    st.lists(st.floats(0.001, 1000), min_size=1, max_size=12),
)
def test_apportion_sums_to_the_amount_exactly(
    amount: int, weights: list[float]
) -> None:
    parts = {f"n{i}": w for i, w in enumerate(weights)}
    pieces = apportion(amount, parts)
    assert sum(pieces.values()) == amount
    total = sum(weights)
    for name, w in parts.items():
        assert abs(pieces[name] - amount * w / total) <= 1 + abs(amount) * 1e-12


def test_apportion_mirrors_negative_amounts() -> None:
    assert apportion(-10, {"a": 0.5, "b": 0.25, "c": 0.25}) == {
        "a": -5,
        "b": -3,
        "c": -2,
    }
