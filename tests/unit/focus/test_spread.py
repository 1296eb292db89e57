"""Charge periods spanning days are spread exactly, leftovers to the earliest days."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from finops.domain.focus.spread import DAY_MICROSECONDS, spread_over_days

HOUR = DAY_MICROSECONDS // 24


def _spread(amount: int, start: int, end: int) -> list[int]:
    result = spread_over_days(
        np.array([amount], np.int64),
        np.array([start], np.int64),
        np.array([end], np.int64),
    )
    amounts: list[int] = result.amounts.tolist()
    return amounts


def test_leftover_micros_go_to_the_earliest_days() -> None:
    assert _spread(10, 0, 3 * DAY_MICROSECONDS) == [4, 3, 3]
    assert _spread(11, 0, 3 * DAY_MICROSECONDS) == [4, 4, 3]


def test_credits_spread_with_the_same_shape_and_negative_sign() -> None:
    assert _spread(-10, 0, 3 * DAY_MICROSECONDS) == [-4, -3, -3]


def test_hourly_lines_stay_on_their_day() -> None:
    result = spread_over_days(
        np.array([5, 7], np.int64),
        np.array([23 * HOUR, 0], np.int64),
        np.array([DAY_MICROSECONDS, HOUR], np.int64),
    )
    assert result.days.tolist() == [0, 0]
    assert result.amounts.tolist() == [5, 7]


def test_a_period_touching_two_days_is_split_over_both() -> None:
    result = spread_over_days(
        np.array([9], np.int64),
        np.array([20 * HOUR]),
        np.array([DAY_MICROSECONDS + HOUR]),
    )
    assert result.days.tolist() == [0, 1]
    assert result.amounts.tolist() == [5, 4]


@given(
    st.lists(
        st.tuples(
            st.integers(-(10**12), 10**12),
            st.integers(0, 400 * 24),
            st.integers(0, 62 * 24),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_spreading_conserves_every_line(lines: list[tuple[int, int, int]]) -> None:
    amounts = np.array([a for a, _, _ in lines], np.int64)
    starts = np.array([s * HOUR for _, s, _ in lines], np.int64)
    ends = starts + np.array([d * HOUR for _, _, d in lines], np.int64)
    result = spread_over_days(amounts, starts, ends)
    sums = np.bincount(result.rows, weights=result.amounts, minlength=len(lines))
    assert np.array_equal(sums.astype(np.int64), amounts)
    for row in range(len(lines)):
        parts = result.amounts[result.rows == row]
        assert parts.max() - parts.min() <= 1
        assert list(np.abs(parts)) == sorted(np.abs(parts), reverse=True)


def test_sub_micro_parts_spread_in_picos_and_sum_to_the_line() -> None:
    # 0.0000004 (4e5 picos below 0 micros) over 3 days; a credit the same way.
    result = spread_over_days(
        np.array([0, -1], np.int64),
        np.array([0, 0], np.int64),
        np.array([3 * DAY_MICROSECONDS, 2 * DAY_MICROSECONDS], np.int64),
        np.array([400_000, -300_001], np.int64),
    )
    assert result.amounts.tolist() == [0, 0, 0, -1, 0]
    assert result.picos.tolist() == [133_334, 133_333, 133_333, -150_001, -150_000]
