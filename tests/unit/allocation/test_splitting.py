"""split_exactly: floors, largest remainders, ties to the earlier part, conservation."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from finops.domain.allocation.splitting import split_exactly, split_in_place


def _split(amount: int, shares: list[float]) -> list[int]:
    out = split_exactly(np.array([amount], dtype=np.int64), np.array(shares)[:, None])
    parts: list[int] = out[:, 0].tolist()
    return parts


def test_thirds_give_the_leftover_unit_to_the_earliest_part() -> None:
    assert _split(1000, [1 / 3, 1 / 3, 1 / 3]) == [334, 333, 333, 0]


def test_retained_part_takes_a_leftover_when_its_remainder_is_largest() -> None:
    assert _split(7, [0.3, 0.3]) == [2, 2, 3]


def test_credits_split_with_floors_like_costs() -> None:
    assert _split(-1000, [1 / 3, 1 / 3, 1 / 3]) == [-333, -333, -334, 0]


def test_half_micro_ties_go_to_the_earlier_part() -> None:
    assert _split(1, [0.5, 0.5]) == [1, 0, 0]


def test_zero_share_parts_never_receive_a_unit() -> None:
    assert _split(5, [0.0, 1.0]) == [0, 5, 0]


@settings(max_examples=200, deadline=None)
@given(
    amounts=st.lists(st.integers(-(10**13), 10**13), min_size=1, max_size=6),
    weights=st.lists(st.floats(0, 1), min_size=1, max_size=5),
    scale=st.floats(0, 1),
)
def test_split_conserves_every_micro_unit(
    amounts: list[int], weights: list[float], scale: float
) -> None:
    total = sum(weights)
    shares = [w / total * scale if total else 0.0 for w in weights]
    matrix = np.tile(np.array(shares)[:, None], (1, len(amounts)))
    parts = split_exactly(np.array(amounts, dtype=np.int64), matrix)
    assert parts.sum(axis=0).tolist() == amounts
    ideal = np.array(amounts, dtype=float) * matrix
    assert np.all(np.abs(parts[:-1] - ideal) <= 1 + np.abs(ideal) * 1e-9)


def _reference(amount: int, shares: list[float]) -> list[int]:
    """The rule in plain Python: floors, then leftovers to the largest remainders."""
    rest = 1.0 - sum(shares)
    rest = 0.0 if rest < 1e-12 else rest
    full = [*shares, rest]
    ideal = [amount * s for s in full]
    parts = [math.floor(x) for x in ideal]
    fractions = [
        x - p if s else -1.0 for x, p, s in zip(ideal, parts, full, strict=True)
    ]
    ranked = sorted(range(len(parts)), key=lambda i: (-fractions[i], i))
    for i in ranked[: amount - sum(parts)]:
        parts[i] += 1
    return parts


@settings(max_examples=200, deadline=None)
@given(
    amount=st.integers(-(10**12), 10**12),
    weights=st.lists(st.integers(0, 3), min_size=1, max_size=14),
)
def test_split_matches_the_rule_for_few_and_many_parts(
    amount: int, weights: list[int]
) -> None:
    # Sixteenths are exact in binary floats, so ties are real ties.
    shares = [w / 16 for w in weights]
    if sum(weights) > 16:
        shares = [w / 64 for w in weights]
    assert _split(amount, shares) == _reference(amount, shares)


def test_many_equal_parts_give_leftovers_to_the_earliest() -> None:
    assert _split(10, [1 / 8] * 8) == [2, 2, 1, 1, 1, 1, 1, 1, 0]


@settings(max_examples=200, deadline=None)
@given(
    amounts=st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=8),
    weights=st.lists(
        st.lists(st.floats(0, 1), min_size=1, max_size=8), min_size=1, max_size=12
    ),
)
def test_split_in_place_is_split_exactly_bit_for_bit(
    amounts: list[int], weights: list[list[float]]
) -> None:
    # One row per part; a column's shares scaled to sum to at most 1.
    n = len(amounts)
    matrix = np.array([(row * n)[:n] for row in weights])
    totals = matrix.sum(axis=0)
    shares = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 1)
    shares = np.where(totals > 1, shares, matrix / len(weights))
    full = np.full((len(weights) + 1, n), np.nan)  # the last row is never read
    full[:-1] = shares
    money = np.array(amounts, dtype=np.int64)
    expected = split_exactly(money, shares)
    assert np.array_equal(split_in_place(money, full), expected)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    parts=st.integers(2, 24),
    columns=st.sampled_from([1, 2, 7, 2048]),
)
def test_ranking_and_sorting_give_the_rule_on_short_and_long_rows(
    seed: int, parts: int, columns: int
) -> None:
    """Leftovers are ranked pairwise or by sorting, by parts and columns
    (`_PAIRWISE_PARTS`, `_LONG_ROWS`): every way gives the rule, column by column."""
    rng = np.random.default_rng(seed)
    # Sixty-fourths, so ties are real ties; some parts without a share.
    weights = rng.integers(0, 4, size=(parts, columns))
    shares = weights / np.maximum(64, weights.sum(axis=0))
    amounts = rng.integers(-(10**9), 10**9, size=columns)
    split = split_exactly(amounts, shares)
    for c in rng.choice(columns, size=min(columns, 16), replace=False).tolist():
        expected = _reference(int(amounts[c]), shares[:, c].tolist())
        assert split[:, c].tolist() == expected
