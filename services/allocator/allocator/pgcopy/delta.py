"""A date's changes on their way to the store: plain rows, or encoded for COPY."""

from __future__ import annotations

from dataclasses import dataclass

from allocator.compute.daydelta import DayDelta
from allocator.compute.shares import NO_SHARES, ShareRows
from allocator.pgcopy.nodes import EncodedNodes

__all__ = ["EncodedDelta"]


@dataclass(frozen=True)
class EncodedDelta:
    """A DayDelta whose node rows (a busy date's, from the compute process) may be
    encoded already for binary COPY, and the shares its flows are derived from; the
    store passes the bytes on as they are instead of encoding tuples on the
    worker's event loop."""

    plain: DayDelta  # what is not encoded: keys removed, flags, rows
    node_copy: EncodedNodes | None = None  # node rows (plain.nodes then has none)
    shares: ShareRows = NO_SHARES  # written in the node rows' transaction

    @property
    def complete(self) -> bool:
        """True: the date's stored rows are all replaced."""
        return self.plain.complete

    @property
    def nodes_written(self) -> int:
        """Node rows to write (not counting keys removed)."""
        return len(self.plain.nodes) + len(self.node_copy or ())

    @property
    def shares_written(self) -> int:
        """Share rows to write (not counting parents whose rows are deleted)."""
        return len(self.shares)

    @property
    def is_empty(self) -> bool:
        """True when nothing stored changes."""
        return self.plain.is_empty and not self.node_copy and self.shares.is_empty

    @property
    def dimensions(self) -> list[str]:
        """Dimensions with any node row written or removed."""
        dims = set(self.plain.dimensions)
        if self.node_copy is not None:
            dims |= self.node_copy.dimensions
        return sorted(dims)
