"""Integer rows summed per group, by rounds of gathers instead of `reduceat`.

`np.add.reduceat(rows[order], starts, axis=0)` over (rows, cells) int64 arrays
walks each column segment by segment and holds the GIL throughout: in the batch
path's full pass it took ~17 % of the time, all of it with the GIL, so the second
thread splitting beside it waited. Here each group's first row is gathered, then
its second rows are added in one round, its third in the next, and so on: a few
whole-array NumPy calls (a batch's children repeat at most ~5 times in
`finops synth`'s organisations), ~3 times faster alone. Integer sums are the same bits
in any order. Groups that repeat more than `MAX_ROUNDS` times are summed with
`reduceat`, whose cost does not grow with the repeats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["MAX_ROUNDS", "RowSums"]

# Rounds grow with the largest group and reduceat does not: past this many rows in
# one group, reduceat is used (a bound, not a measured crossover; synthetic batches
# stay under 6).
MAX_ROUNDS = 16


@dataclass(frozen=True)
class RowSums:
    """Sums rows into groups: row `order[i]` belongs to group g when
    `starts[g] <= i < starts[g + 1]` (rows sorted by group, each group non-empty)."""

    order: NDArray[np.int64]
    starts: NDArray[np.int64]
    # The first row of each group, then per round the rows and their groups.
    first: NDArray[np.int64]
    rounds: tuple[tuple[NDArray[np.int64], NDArray[np.int64]], ...] | None

    @classmethod
    def of(cls, order: NDArray[np.int64], starts: NDArray[np.int64]) -> RowSums:
        """The sums of `np.add.reduceat(rows[order], starts, axis=0)`."""
        sizes = np.diff(starts, append=len(order))
        if sizes.size == 0 or sizes.max() > MAX_ROUNDS:
            return cls(order, starts, order[starts], None)
        group = np.repeat(np.arange(len(starts)), sizes)
        within = np.arange(len(order)) - np.repeat(starts, sizes)
        rounds = []
        for j in range(1, int(sizes.max())):
            at = np.flatnonzero(within == j)
            rounds.append((order[at], group[at]))
        return cls(order, starts, order[starts], tuple(rounds))

    def __call__(self, rows: NDArray[np.int64]) -> NDArray[np.int64]:
        """(groups, ...) sums of (rows, ...) integers."""
        if self.rounds is None:
            summed: NDArray[np.int64] = np.add.reduceat(
                rows[self.order], self.starts, axis=0
            )
            return summed
        out = rows[self.first]
        for taken, group in self.rounds:
            out[group] += rows[taken]  # each group at most once per round
        return out
