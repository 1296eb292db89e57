"""The cyclic garbage collector's pace in the allocator's processes: rare, since
cycles are (docs/decisions/0011-garbage-collector-pace.md)."""

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
