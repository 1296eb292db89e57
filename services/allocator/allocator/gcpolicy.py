"""The cyclic garbage collector's pace in the allocator process.

The allocator holds millions of long-lived objects (inputs per date, frames, plans)
and makes hundreds of thousands of short-lived ones a second (rows, events). With
the default thresholds the collector walks the whole heap again and again: the hot
path measured by bench/bench_hotpath.py spent as long in collections as in its own
work. Freed memory comes almost all from reference counting; cycles are rare.
"""

from __future__ import annotations

import gc

__all__ = ["THRESHOLDS", "relax", "settle"]

THRESHOLDS = (100_000, 50, 1000)  # allocations before a young collection; ratios


def relax() -> None:
    """Collect less often (once, at start)."""
    gc.set_threshold(*THRESHOLDS)


def settle() -> None:
    """After recovery: what exists now is long-lived, out of the collector's walks.

    Frozen objects are still freed by reference counting when dropped; only a cycle
    among them would outlive its use (the state holds no cycles).
    """
    gc.freeze()
