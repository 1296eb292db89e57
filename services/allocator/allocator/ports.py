"""The service's collaborators: where results go (and the write they take), who
allocates, who sends."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from allocator.compute.group import Item
from allocator.compute.livedays import Computed
from allocator.inputs.days import DayInputs, Touched
from allocator.offsets import DayOffsets
from allocator.pgcopy.delta import EncodedDelta
from finops.contracts.events import DayInputsRouted, GraphChanged
from finops.domain.dag import CostGraph, GraphSpec
from finops.errors import FinopsError

__all__ = ["DayComputer", "DayWrite", "Publisher", "ResultStore"]


@dataclass(frozen=True)
class DayWrite:
    """A date's changed rows on their way to the store, with the run, graph version
    and input offsets they reflect."""

    day: date
    delta: EncodedDelta
    run_id: uuid.UUID
    graph_version: int
    offsets: DayOffsets | None


class ResultStore(Protocol):
    """Where results go (PostgreSQL in production)."""

    async def write_results(self, write: DayWrite) -> None:
        """A date's node rows and shares, in one transaction, and the offsets
        they reflect."""

    async def mark_day(
        self, day: date, *, graph_version: int, offsets: DayOffsets | None
    ) -> None: ...

    async def stored_days(self) -> dict[date, tuple[int, DayOffsets | None]]: ...

    async def write_graph(self, spec: GraphSpec, change: GraphChanged) -> None:
        """Keep the graph after `change` in the database, for readers."""


class DayComputer(Protocol):
    """Allocates dates and keeps what makes the next allocation of a date cheap
    (`LiveDays` in this process, `ComputeProcess` in another)."""

    def touch(self, day: date, touched: Touched) -> None: ...

    def take(self, day: date) -> Touched: ...

    def forget(self, day: date) -> None: ...

    def clear(self) -> None: ...

    async def allocate(
        self,
        graph: CostGraph,
        day: date,
        inputs: DayInputs,
        touched: Touched,
    ) -> Computed: ...

    async def allocate_many(
        self, graph: CostGraph, items: Sequence[Item]
    ) -> list[asyncio.Future[Computed | FinopsError]]:
        """Several dates in one request (consecutive busy dates on one engine): per
        date, in the items' order, a future of what it computed or the input's
        error, done as soon as that date is (the first before the others)."""
        ...


class Publisher(Protocol):
    """Sends routed inputs and results (Kafka in production)."""

    async def forward(self, partition: int, piece: DayInputsRouted) -> None: ...

    async def publish(self, day: date, event: bytes) -> None:
        """An encoded AllocationComputed of a charge date."""
