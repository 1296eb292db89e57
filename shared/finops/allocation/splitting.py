"""Exact split of integer micro-unit amounts by float shares (largest remainder)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["split_exactly", "split_rows"]

# Shares that sum to 1 leave a float residue of ~1e-16 for the retained part.
_RESIDUE = 1e-12


def split_exactly(
    amounts: NDArray[np.int64], shares: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Largest-remainder split of micro-units; parts plus retained sum to the input.

    amounts: (n,) micro-units; shares: (k, n), each column summing to at most 1.
    Returns (k + 1, n): one row per part in the given order, the retained part last.
    Each part gets the floor of its ideal amount; the leftover micro-units go one
    each to the largest fractional remainders, ties to the earlier part.
    """
    return split_rows(amounts, np.ascontiguousarray(shares.T)).T


def split_rows(
    amounts: NDArray[np.int64], shares: NDArray[np.float64]
) -> NDArray[np.int64]:
    """split_exactly with one row per amount: shares (n, k) -> parts (n, k + 1)."""
    retained = 1.0 - shares.sum(axis=1)
    retained[retained < _RESIDUE] = 0.0
    full = np.concatenate([shares, retained[:, np.newaxis]], axis=1)
    ideal = full * amounts.astype(np.float64)[:, np.newaxis]
    floors = np.floor(ideal)
    parts = floors.astype(np.int64)
    fractions = ideal - floors
    # Parts with no share never take a leftover unit, whatever float noise says.
    fractions[full == 0.0] = -1.0
    leftover = amounts - parts.sum(axis=1)
    rows = np.flatnonzero(leftover)
    if rows.size:
        parts[rows] += _bonus(fractions[rows], leftover[rows])
    return parts


def _bonus(
    fractions: NDArray[np.float64], leftover: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Units per part: `leftover` spread over the largest fractions, ties to the left.

    Float noise can make a leftover odd, so every part gets `whole` and the
    `extra` largest one more; conservation holds either way.
    """
    n, width = fractions.shape
    whole, extra = np.divmod(leftover, width)
    ascending = np.sort(fractions, axis=1)
    threshold = ascending[np.arange(n), np.maximum(width - extra, 0) % width]
    above = fractions > threshold[:, np.newaxis]
    tied = fractions == threshold[:, np.newaxis]
    room = extra - above.sum(axis=1)
    take = above | (tied & (np.cumsum(tied, axis=1) <= room[:, np.newaxis]))
    take[extra == 0] = False
    return take.astype(np.int64) + whole[:, np.newaxis]
