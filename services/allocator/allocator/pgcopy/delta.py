"""A date's changes on their way to the store: plain rows, or encoded for COPY."""

from __future__ import annotations

from dataclasses import dataclass

from allocator.compute.daydelta import DayDelta
from allocator.pgcopy.format import CopyRows
from allocator.pgcopy.nodes import EncodedNodes

__all__ = ["EncodedDelta"]


@dataclass(frozen=True)
class EncodedDelta:
    """A DayDelta whose node rows or flows (a busy date's, from the compute process)
    may be encoded already for binary COPY; the store passes those bytes on as they
    are instead of encoding tuples on the worker's event loop."""

    plain: DayDelta  # what is not encoded: keys removed, flags, rows
    node_copy: EncodedNodes | None = None  # node rows (plain.nodes then has none)
    flow_copy: CopyRows | None = None  # flows (plain.flows then has none)

    @property
    def complete(self) -> bool:
        """True: the date's stored rows are all replaced."""
        return self.plain.complete

    @property
    def settled(self) -> bool:
        """False: flows held back, the stored flows are older."""
        return self.plain.settled

    @property
    def nodes_written(self) -> int:
        """Node rows to write (not counting keys removed)."""
        return len(self.plain.nodes) + len(self.node_copy or ())

    @property
    def flows_written(self) -> int:
        """Flow rows to write (not counting keys removed)."""
        return len(self.plain.flows) + len(self.flow_copy or ())

    @property
    def is_empty(self) -> bool:
        """True when nothing stored changes."""
        return self.plain.is_empty and not (self.node_copy or self.flow_copy)

    @property
    def writes_flows(self) -> bool:
        """True when stored flows change (see DayDelta.writes_flows)."""
        return self.plain.writes_flows or bool(self.flow_copy)

    @property
    def dimensions(self) -> list[str]:
        """Dimensions with any row written or removed."""
        dims = set(self.plain.dimensions)
        for encoded in (self.node_copy, self.flow_copy):
            if encoded is not None:
                dims |= encoded.dimensions
        return sorted(dims)
