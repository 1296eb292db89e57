"""Exact split of integer micro-unit amounts by float shares (largest remainder)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["split_exactly"]

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
    retained = 1.0 - shares.sum(axis=0)
    retained[retained < _RESIDUE] = 0.0
    full = np.vstack([shares, retained[np.newaxis, :]])
    ideal = full * amounts.astype(np.float64)
    floors = np.floor(ideal)
    parts = floors.astype(np.int64)
    fractions = ideal - floors
    # Parts with no share never take a leftover unit, whatever float noise says.
    fractions[full == 0.0] = -1.0
    leftover = amounts - parts.sum(axis=0)
    _give_leftover(parts, fractions, leftover)
    return parts


def _give_leftover(
    parts: NDArray[np.int64],
    fractions: NDArray[np.float64],
    leftover: NDArray[np.int64],
) -> None:
    """Add each column's leftover to its parts, largest fraction first, in place."""
    columns = np.flatnonzero(leftover)
    if columns.size == 0:
        return
    rows = parts.shape[0]
    order = np.argsort(-fractions[:, columns], axis=0, kind="stable")
    # Conservation holds even if float noise made the leftover odd: q each, r extra.
    whole, extra = np.divmod(leftover[columns], rows)
    bonus = (np.arange(rows)[:, np.newaxis] < extra[np.newaxis, :]).astype(np.int64)
    bonus += whole[np.newaxis, :]
    sub = parts[:, columns]
    np.put_along_axis(sub, order, np.take_along_axis(sub, order, axis=0) + bonus, 0)
    parts[:, columns] = sub
