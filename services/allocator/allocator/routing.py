"""Re-keying costs and usage by the charge dates they affect (pure)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta

from finops.dag import GraphSpec
from finops.events import DateScope, DayInputsRouted, NodeCostsReported, UsageReported
from finops.records import UsageRecord

__all__ = ["max_window_days", "partition_of", "route_event"]


def partition_of(day: date, partitions: int) -> int:
    """The inputs partition that owns a charge date: consecutive days spread evenly."""
    return day.toordinal() % partitions


def max_window_days(spec: GraphSpec) -> int:
    """The longest weighted_average window of the graph (1 when there is none)."""
    longest = 1
    for edge in spec.edges:
        rules = [(edge.strategy, edge.params)]
        rules += [(o.strategy, o.params) for o in edge.dimensions.values()]
        for strategy, params in rules:
            if strategy == "weighted_average":
                longest = max(longest, int(params.get("window_days", 7)))
    return longest


def _days(first: date, last: date) -> Iterable[date]:
    for n in range((last - first).days + 1):
        yield first + timedelta(days=n)


def route_event(
    event: NodeCostsReported | UsageReported, *, origin: str, window_days: int
) -> list[DayInputsRouted]:
    """One piece per charge date the event affects, in date order."""
    if isinstance(event, NodeCostsReported):
        return _route_costs(event, origin)
    return _route_usage(event, origin, window_days)


def _piece(event: NodeCostsReported | UsageReported, origin: str, day: date) -> dict:  # type: ignore[type-arg]
    return {
        "event_id": uuid.uuid5(event.event_id, day.isoformat()),
        "occurred_at": event.occurred_at,
        "charge_date": day,
        "source": event.source,
        "origin": origin,
        "ingested_at": event.occurred_at,
    }


def _route_costs(event: NodeCostsReported, origin: str) -> list[DayInputsRouted]:
    by_day: dict[date, list] = defaultdict(list)  # type: ignore[type-arg]
    for cost in event.costs:
        by_day[cost.date].append(cost)
    scope = event.replaces
    if scope is not None:
        for day in _days(scope.first, scope.last):
            by_day.setdefault(day, [])
    return [
        DayInputsRouted(
            **_piece(event, origin, day),
            costs_replace=scope is not None and scope.first <= day <= scope.last,
            costs=by_day[day],
        )
        for day in sorted(by_day)
    ]


def _route_usage(
    event: UsageReported, origin: str, window_days: int
) -> list[DayInputsRouted]:
    reach = timedelta(days=window_days - 1)
    by_day: dict[date, list[UsageRecord]] = defaultdict(list)
    for row in event.usage:
        for day in _days(row.date, row.date + reach):
            by_day[day].append(row)
    scope = event.replaces
    if scope is not None:
        for day in _days(scope.first, scope.last + reach):
            by_day.setdefault(day, [])
    return [
        DayInputsRouted(
            **_piece(event, origin, day),
            usage_replaces=_clip(scope, day - reach, day),
            usage=by_day[day],
        )
        for day in sorted(by_day)
    ]


def _clip(scope: DateScope | None, first: date, last: date) -> DateScope | None:
    if scope is None:
        return None
    lo, hi = max(scope.first, first), min(scope.last, last)
    return DateScope(first=lo, last=hi) if lo <= hi else None
