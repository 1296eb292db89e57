"""Re-keying costs and usage by the charge dates they affect (pure)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta

from finops.dag import GraphSpec
from finops.events import DateScope, DayInputsRouted, NodeCostsReported, UsageReported
from finops.records import NodeCost, UsageRecord

__all__ = ["max_window_days", "merge_pieces", "partition_of", "route_event"]


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


def merge_pieces(pieces: list[DayInputsRouted]) -> list[DayInputsRouted]:
    """Fewer pieces with the same effect: later pieces of a date and source fold into
    earlier ones (a later figure replaces an earlier one, as applying both would)."""
    slot: dict[tuple[date, str], int] = {}
    out: list[DayInputsRouted] = []
    for piece in pieces:
        key = (piece.charge_date, piece.source)
        at = slot.get(key)
        if at is not None and _can_fold(out[at], piece):
            out[at] = _fold(out[at], piece)
        else:
            slot[key] = len(out)
            out.append(piece)
    return out


MAX_PIECE_ROWS = 2000  # a merged piece stays far below the broker's 1 MiB message limit


def _can_fold(a: DayInputsRouted, b: DayInputsRouted) -> bool:
    rows = len(a.costs) + len(a.usage) + len(b.costs) + len(b.usage)
    return rows <= MAX_PIECE_ROWS and not (a.usage_replaces and b.usage_replaces)


def _cost_cells(piece: DayInputsRouted) -> dict[tuple[str, str], int]:
    cells: dict[tuple[str, str], int] = defaultdict(int)
    for cost in piece.costs:
        cells[(cost.node, cost.dimension)] += cost.amount_micros
    return cells


def _usage_cells(
    piece: DayInputsRouted,
) -> dict[tuple[str, date, str, str], UsageRecord]:
    cells: dict[tuple[str, date, str, str], UsageRecord] = {}
    for row in piece.usage:
        key = (row.node, row.date, row.metric, repr(sorted(row.labels.items())))
        old = cells.get(key)
        cells[key] = (
            row
            if old is None
            else row.model_copy(update={"value": old.value + row.value})
        )
    return cells


def _fold(a: DayInputsRouted, b: DayInputsRouted) -> DayInputsRouted:
    costs = {} if b.costs_replace else _cost_cells(a)
    costs.update(_cost_cells(b))
    usage = _usage_cells(a)
    scope = b.usage_replaces
    if scope is not None:
        usage = {
            k: v for k, v in usage.items() if not scope.first <= k[1] <= scope.last
        }
    usage.update(_usage_cells(b))
    day = a.charge_date
    return b.model_copy(
        update={
            "ingested_at": min(a.ingested_at, b.ingested_at),
            "costs_replace": a.costs_replace or b.costs_replace,
            "usage_replaces": a.usage_replaces or b.usage_replaces,
            "costs": [
                NodeCost(node=n, date=day, dimension=k, amount_micros=v)
                for (n, k), v in costs.items()
            ],
            "usage": list(usage.values()),
        }
    )
