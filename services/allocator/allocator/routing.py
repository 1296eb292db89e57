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
    runs: list[list[DayInputsRouted]] = []
    rows: list[int] = []
    for piece in pieces:
        key = (piece.charge_date, piece.source)
        at = slot.get(key)
        size = len(piece.costs) + len(piece.usage)
        if at is not None and _can_fold(runs[at], rows[at] + size, piece):
            runs[at].append(piece)
            rows[at] += size
        else:
            slot[key] = len(runs)
            runs.append([piece])
            rows.append(size)
    return [run[0] if len(run) == 1 else _fold(run) for run in runs]


MAX_PIECE_ROWS = 2000  # a merged piece stays far below the broker's 1 MiB message limit


def _can_fold(run: list[DayInputsRouted], rows: int, b: DayInputsRouted) -> bool:
    replaces = b.usage_replaces is not None and any(p.usage_replaces for p in run)
    return rows <= MAX_PIECE_ROWS and not replaces


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


def _fold(run: list[DayInputsRouted]) -> DayInputsRouted:
    """One piece with the effect of applying the run's pieces in turn."""
    costs: dict[tuple[str, str], int] = {}
    usage: dict[tuple[str, date, str, str], UsageRecord] = {}
    for piece in run:
        if piece.costs_replace:
            costs = {}
        costs.update(_cost_cells(piece))
        scope = piece.usage_replaces
        if scope is not None:
            usage = {
                k: v for k, v in usage.items() if not scope.first <= k[1] <= scope.last
            }
        usage.update(_usage_cells(piece))
    day, last = run[0].charge_date, run[-1]
    return last.model_copy(
        update={
            "ingested_at": min(p.ingested_at for p in run),
            "events": sum(p.events for p in run),
            "costs_replace": any(p.costs_replace for p in run),
            "usage_replaces": next(
                (p.usage_replaces for p in run if p.usage_replaces), None
            ),
            "costs": [
                NodeCost(node=n, date=day, dimension=k, amount_micros=v)
                for (n, k), v in costs.items()
            ],
            "usage": list(usage.values()),
        }
    )
