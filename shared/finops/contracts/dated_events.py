"""Events stating a source's whole cost or usage on each charge date, keyed by date."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import TypeVar
from uuid import UUID

from finops.contracts.events import DateScope, NodeCostsReported, UsageReported
from finops.domain.records import NodeCost, UsageRecord

__all__ = ["node_cost_events", "usage_events"]

EventIds = Callable[[], UUID]
T = TypeVar("T")


def node_cost_events(
    source: str,
    costs: Mapping[date, list[NodeCost]],
    dates: Iterable[date],
    *,
    chunk: int,
    now: datetime,
    new_id: EventIds,
    ingest_id: UUID | None = None,
) -> Iterator[tuple[date, NodeCostsReported]]:
    """Events stating a source's whole cost on each date, keyed by that date.

    The first event of a date replaces that date (`replaces`), the next ones add to it;
    a date with no cost left gets one empty replacing event.
    """
    for day in sorted(set(dates)):
        for index, part in enumerate(_chunks(costs.get(day, []), chunk)):
            scope = DateScope(first=day, last=day) if index == 0 else None
            yield (
                day,
                NodeCostsReported(
                    event_id=new_id(),
                    occurred_at=now,
                    source=source,
                    ingest_id=ingest_id,
                    replaces=scope,
                    costs=part,
                ),
            )


def usage_events(
    source: str,
    usage: Mapping[date, list[UsageRecord]],
    dates: Iterable[date],
    *,
    chunk: int,
    now: datetime,
    new_id: EventIds,
) -> Iterator[tuple[date, UsageReported]]:
    """Events stating a source's whole usage on each date, keyed by that date."""
    for day in sorted(set(dates)):
        for index, part in enumerate(_chunks(usage.get(day, []), chunk)):
            scope = DateScope(first=day, last=day) if index == 0 else None
            yield (
                day,
                UsageReported(
                    event_id=new_id(),
                    occurred_at=now,
                    source=source,
                    replaces=scope,
                    usage=part,
                ),
            )


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    """Slices of at most `size` items; an empty list gives one empty slice."""
    if not items:
        yield []
        return
    for start in range(0, len(items), size):
        yield items[start : start + size]
