"""In-memory fakes of the allocator's collaborators, for unit tests of its service."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from allocator.offsets import DayOffsets
from allocator.ports import DayWrite
from finops.contracts.codec import decode_event
from finops.contracts.events import AllocationComputed, DayInputsRouted, GraphChanged
from finops.domain.dag import GraphSpec
from tests.support.derived_flows import StoredDay

__all__ = ["FixedClock", "InMemoryResultStore", "RecordingPublisher"]


@dataclass
class FixedClock:
    """A clock that moves only when told."""

    now: datetime = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


@dataclass
class InMemoryResultStore:
    """Stored rows per date, as the PostgreSQL store would hold them; flows derived
    from node rows and shares as the allocation_contributions view derives them."""

    stored: dict[date, StoredDay] = field(default_factory=dict)
    days: dict[date, tuple[int, DayOffsets | None]] = field(default_factory=dict)
    writes: int = 0
    graph_nodes: dict[str, str] = field(default_factory=dict)

    @property
    def nodes(self) -> dict[tuple[date, str, str], tuple[int, ...]]:
        """Node rows of every date."""
        return {(d, *k): v for d, s in self.stored.items() for k, v in s.nodes.items()}

    @property
    def flows(self) -> dict[tuple[date, str, str, str], tuple[Any, ...]]:
        """Flows of every date, as the view lists them."""
        return {
            (d, *k): v for d, s in self.stored.items() for k, v in s.flows().items()
        }

    async def write_results(self, write: DayWrite) -> None:
        """A day's node rows and shares (the date's replaced when complete, else
        patched) and the offsets they reflect."""
        self.stored.setdefault(write.day, StoredDay()).write(write.delta)
        self.days[write.day] = (write.graph_version, write.offsets)
        self.writes += 1

    async def mark_day(
        self, day: date, *, graph_version: int, offsets: DayOffsets | None
    ) -> None:
        """The date's rows already reflect these inputs."""
        self.days[day] = (graph_version, offsets)

    async def stored_days(self) -> dict[date, tuple[int, DayOffsets | None]]:
        """Graph version and offsets per stored date."""
        return dict(self.days)

    async def write_graph(self, spec: GraphSpec, change: GraphChanged) -> None:
        """Remember node types."""
        self.graph_nodes.update((n.id, str(n.type)) for n in spec.nodes)


@dataclass
class RecordingPublisher:
    """Keeps what would have been sent."""

    forwarded: list[tuple[int, DayInputsRouted]] = field(default_factory=list)
    published: list[AllocationComputed] = field(default_factory=list)

    async def forward(self, partition: int, piece: DayInputsRouted) -> None:
        """Record a routed piece."""
        self.forwarded.append((partition, piece))

    async def publish(self, day: date, event: bytes) -> None:
        """Record a result event (decoded, as a consumer reads it)."""
        decoded = decode_event(event)
        assert isinstance(decoded, AllocationComputed) and decoded.charge_date == day
        self.published.append(decoded)
