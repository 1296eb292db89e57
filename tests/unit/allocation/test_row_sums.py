"""RowSums: integer rows summed per group equal NumPy's reduceat, bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from finops.domain.allocation.rowsums import MAX_ROUNDS, RowSums


@st.composite
def grouped_rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Rows of int64 (extremes included) and a group for each row."""
    n_groups = draw(st.integers(1, 12))
    groups = draw(
        st.lists(st.integers(0, n_groups - 1), min_size=1, max_size=3 * MAX_ROUNDS)
    )
    width = draw(st.integers(1, 5))
    values = st.integers(-(2**62), 2**62) | st.sampled_from([0, 1, -1])
    size = len(groups) * width
    cells = draw(st.lists(values, min_size=size, max_size=size))
    rows = np.array(cells, dtype=np.int64).reshape(len(groups), width)
    return rows, np.array(groups, dtype=np.int64)


def _sums_of(groups: np.ndarray) -> RowSums:
    order = np.argsort(groups, kind="stable")
    ranked = groups[order]
    return RowSums.of(order, np.flatnonzero(np.diff(ranked, prepend=-1) != 0))


@settings(max_examples=300, deadline=None)
@given(grouped_rows())
def test_sums_equal_reduceat(case: tuple[np.ndarray, np.ndarray]) -> None:
    rows, groups = case
    sums = _sums_of(groups)
    expected = np.add.reduceat(rows[sums.order], sums.starts, axis=0)
    np.testing.assert_array_equal(sums(rows), expected)


def test_rounds_are_one_per_repeat_below_the_limit() -> None:
    groups = np.array([2, 0, 2, 1, 2, 0], dtype=np.int64)
    sums = _sums_of(groups)
    assert sums.rounds is not None and len(sums.rounds) == 2  # group 2 has 3 rows
    rows = np.arange(12, dtype=np.int64).reshape(6, 2)
    assert sums(rows).tolist() == [[12, 14], [6, 7], [12, 15]]


def test_a_group_above_the_limit_is_summed_by_reduceat() -> None:
    groups = np.zeros(MAX_ROUNDS + 1, dtype=np.int64)
    sums = _sums_of(groups)
    assert sums.rounds is None
    rows = np.ones((MAX_ROUNDS + 1, 3), dtype=np.int64)
    assert sums(rows).tolist() == [[MAX_ROUNDS + 1] * 3]


def test_the_input_rows_are_left_as_they_were() -> None:
    groups = np.array([0, 0, 1], dtype=np.int64)
    rows = np.array([[1], [2], [3]], dtype=np.int64)
    _sums_of(groups)(rows)
    assert rows.tolist() == [[1], [2], [3]]
