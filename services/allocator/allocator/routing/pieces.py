"""Re-keying costs and usage by the charge dates they affect (pure)."""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from finops.contracts.events import (
    DateScope,
    DayInputsRouted,
    NodeCostsReported,
    UsageReported,
)
from finops.domain.dag import GraphSpec
from finops.domain.records import NodeCost, UsageRecord
from finops.domain.rules import StrategyName, rule_for

__all__ = [
    "NO_COPIES",
    "Reach",
    "forward_batch",
    "merge_pieces",
    "partition_of",
    "route_batch",
    "route_event",
    "usage_reach",
]


def partition_of(day: date, partitions: int) -> int:
    """The inputs partition that owns a charge date: consecutive days spread evenly."""
    return day.toordinal() % partitions


@dataclass(frozen=True, slots=True)
class Reach:
    """The dates a usage row is copied to (decision 0340): its own, and for a row a
    weighted_average rule reads (its node is the child of such an edge, its metric
    the rule's) the `days - 1` dates after it, whose windows read it. Other rows are
    read on their own date only. `windowed` None: every row reaches `days` dates."""

    days: int
    windowed: frozenset[tuple[str, str]] | None = None  # (node, metric)
    # Names the rows this reach copies, and how far: kept with the router's commits,
    # so usage routed with another reach may be routed again (worked out once: the
    # router reads it at every commit).
    digest: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", _digest(self.days, self.windowed))

    @classmethod
    def every(cls, days: int) -> Reach:
        """Every row copied to the `days` dates from its own."""
        return cls(days, None)

    def copies(self, row: UsageRecord) -> bool:
        """Whether the row reaches beyond its own date."""
        if self.days == 1:
            return False
        return self.windowed is None or (row.node, row.metric) in self.windowed

    def covered_by(self, other: Reach) -> bool:
        """Whether usage routed with `other` reached every date this reach copies
        a row to."""
        if self.days == 1:
            return True
        if other.days < self.days:
            return False
        if other.windowed is None:
            return True
        return self.windowed is not None and self.windowed <= other.windowed


def _digest(days: int, windowed: frozenset[tuple[str, str]] | None) -> str:
    if windowed is None:
        return f"all{days}"
    text = "\n".join(sorted(f"{n}\t{m}" for n, m in windowed))
    return f"{days}-{hashlib.blake2b(text.encode(), digest_size=8).hexdigest()}"


NO_COPIES: Final = Reach(1, frozenset())  # every row on its own date only


def usage_reach(spec: GraphSpec) -> Reach:
    """The graph's reach: its longest weighted_average window, and the (child,
    metric) pairs its weighted_average rules read."""
    longest, windowed = 1, set()
    for edge in spec.edges:
        for dimension in (None, *edge.dimensions):
            rule = rule_for(edge, dimension)
            if rule.strategy is StrategyName.WEIGHTED_AVERAGE and rule.metric:
                longest = max(longest, rule.window_days)
                windowed.add((edge.to, rule.metric))
    return Reach(longest, frozenset(windowed))


def _days(first: date, last: date) -> Iterable[date]:
    for n in range((last - first).days + 1):
        yield first + timedelta(days=n)


class _Part:
    """What one event says about one charge date (a piece before it is a model).

    A plain class with slots, not a dataclass: the router builds one per event and
    date a usage row reaches, thousands a second. `times` (the event's ingest times)
    and `micros` (the same in µs since the epoch) are shared by an event's parts."""

    __slots__ = (
        "costs",
        "costs_replace",
        "day",
        "event",
        "micros",
        "origin",
        "times",
        "usage",
        "usage_replaces",
    )

    def __init__(
        self,
        event: NodeCostsReported | UsageReported | DayInputsRouted,
        origin: str,
        day: date,
        costs: list[NodeCost],
        usage: list[UsageRecord],
        costs_replace: bool = False,
        usage_replaces: DateScope | None = None,
        stamps: tuple[list[datetime], list[int]] | None = None,
    ) -> None:
        self.event, self.origin, self.day = event, origin, day
        self.costs, self.usage = costs, usage
        self.costs_replace, self.usage_replaces = costs_replace, usage_replaces
        self.times, self.micros = stamps or _stamps(event)

    def piece(self) -> DayInputsRouted:
        return _model([self])


def route_event(
    event: NodeCostsReported | UsageReported, *, origin: str, reach: Reach
) -> list[DayInputsRouted]:
    """One piece per charge date the event affects, in date order."""
    return [part.piece() for part in _parts(event, origin, reach)]


def route_batch(
    events: Iterable[tuple[NodeCostsReported | UsageReported, str]], *, reach: Reach
) -> list[DayInputsRouted]:
    """route_event for each event, then merge_pieces, without building each event's
    pieces: parts of one date and source fold straight into one piece."""
    return _merge(
        part for event, origin in events for part in _parts(event, origin, reach)
    )


async def forward_batch(
    events: Iterable[tuple[NodeCostsReported | UsageReported, str]],
    *,
    reach: Reach,
    partitions: int,
    forward: Callable[[int, DayInputsRouted], Awaitable[None]],
) -> int:
    """route_batch, each piece handed to `forward` with the partition that owns its
    date; returns the number of pieces."""
    pieces = route_batch(events, reach=reach)
    for piece in pieces:
        await forward(partition_of(piece.charge_date, partitions), piece)
    return len(pieces)


def merge_pieces(pieces: list[DayInputsRouted]) -> list[DayInputsRouted]:
    """Fewer pieces with the same effect: later pieces of a date and source fold into
    earlier ones (a later figure replaces an earlier one, as applying both would)."""
    return _merge(
        _Part(
            p,
            p.origin,
            p.charge_date,
            p.costs,
            p.usage,
            p.costs_replace,
            p.usage_replaces,
        )
        for p in pieces
    )


def _parts(
    event: NodeCostsReported | UsageReported, origin: str, reach: Reach
) -> list[_Part]:
    if isinstance(event, NodeCostsReported):
        return _route_costs(event, origin)
    return _route_usage(event, origin, reach)


def _route_costs(event: NodeCostsReported, origin: str) -> list[_Part]:
    by_day: dict[date, list[NodeCost]] = defaultdict(list)
    for cost in event.costs:
        by_day[cost.date].append(cost)
    scope = event.replaces
    if scope is not None:
        for day in _days(scope.first, scope.last):
            by_day.setdefault(day, [])
    stamps = _stamps(event)
    return [
        _Part(
            event,
            origin,
            day,
            by_day[day],
            [],
            scope is not None and scope.first <= day <= scope.last,
            None,
            stamps,
        )
        for day in sorted(by_day)
    ]


def _route_usage(event: UsageReported, origin: str, reach: Reach) -> list[_Part]:
    """A row goes to its own date, and to the later dates of its window when a
    weighted average reads it; a replaced scope reaches as far as any row could."""
    steps = _steps(reach.days)
    by_day: dict[date, list[UsageRecord]] = defaultdict(list)
    for row in event.usage:
        first = row.date
        if reach.copies(row):
            for step in steps:
                by_day[first + step].append(row)
        else:
            by_day[first].append(row)
    scope = event.replaces
    lead = timedelta(days=reach.days - 1)
    if scope is not None:
        for day in _days(scope.first, scope.last + lead):
            by_day.setdefault(day, [])
    stamps = _stamps(event)
    if scope is None:  # the common case: no clip to work out per date
        return [
            _Part(event, origin, day, [], by_day[day], False, None, stamps)
            for day in sorted(by_day)
        ]
    return [
        _Part(
            event,
            origin,
            day,
            [],
            by_day[day],
            False,
            _clip(scope, day - lead, day),
            stamps,
        )
        for day in sorted(by_day)
    ]


_STEPS: dict[int, tuple[timedelta, ...]] = {}


def _steps(window_days: int) -> tuple[timedelta, ...]:
    """The offsets of the dates a usage row reaches (0 .. window_days - 1 days)."""
    steps = _STEPS.get(window_days)
    if steps is None:
        steps = _STEPS[window_days] = tuple(
            timedelta(days=n) for n in range(window_days)
        )
    return steps


def _clip(scope: DateScope | None, first: date, last: date) -> DateScope | None:
    if scope is None:
        return None
    lo, hi = max(scope.first, first), min(scope.last, last)
    return DateScope(first=lo, last=hi) if lo <= hi else None


MAX_PIECE_ROWS = 2000  # a merged piece stays far below the broker's 1 MiB message limit


def _merge(parts: Iterable[_Part]) -> list[DayInputsRouted]:
    """Consecutive-in-effect parts of one date and source become one piece."""
    slot: dict[tuple[date, str], int] = {}
    runs: list[list[_Part]] = []
    rows: list[int] = []
    for part in parts:
        key = (part.day, part.event.source)
        at = slot.get(key)
        size = len(part.costs) + len(part.usage)
        if at is not None and _can_fold(runs[at], rows[at] + size, part):
            runs[at].append(part)
            rows[at] += size
        else:
            slot[key] = len(runs)
            runs.append([part])
            rows.append(size)
    return [_model(run) for run in runs]


def _can_fold(run: list[_Part], rows: int, part: _Part) -> bool:
    replaces = part.usage_replaces is not None and any(p.usage_replaces for p in run)
    return rows <= MAX_PIECE_ROWS and not replaces


def _cost_cells(part: _Part) -> dict[tuple[str, str], int]:
    cells: dict[tuple[str, str], int] = defaultdict(int)
    for cost in part.costs:
        cells[(cost.node, cost.dimension)] += cost.amount_micros
    return cells


UsageCell = tuple[str, date, str, str]


def _usage_key(row: UsageRecord) -> UsageCell:
    labels = row.labels
    return (
        row.node,
        row.date,
        row.metric,
        repr(sorted(labels.items())) if labels else "[]",
    )


def _usage_cells(part: _Part) -> dict[UsageCell, UsageRecord]:
    cells: dict[UsageCell, UsageRecord] = {}
    for row in part.usage:
        key = _usage_key(row)
        old = cells.get(key)
        cells[key] = (
            row
            if old is None
            else row.model_copy(update={"value": old.value + row.value})
        )
    return cells


def _model(run: list[_Part]) -> DayInputsRouted:
    """One piece with the effect of applying the run's parts in turn."""
    last = run[-1]
    fields = {
        "event_id": _piece_id(last),
        "occurred_at": last.event.occurred_at,
        "charge_date": last.day,
        "source": last.event.source,
        "origin": last.origin,
        **_ingest_fields(run),
        "costs_replace": any(p.costs_replace for p in run),
        "usage_replaces": next(
            (p.usage_replaces for p in run if p.usage_replaces), None
        ),
    }
    if len(run) == 1:  # nothing to fold: rows as they came
        return DayInputsRouted.model_construct(
            **fields, costs=last.costs, usage=last.usage
        )
    costs, usage = _folded(run)
    return DayInputsRouted.model_construct(**fields, costs=costs, usage=usage)


def _folded(run: list[_Part]) -> tuple[list[NodeCost], list[UsageRecord]]:
    """The rows left by applying the run's parts in turn."""
    costs: dict[tuple[str, str], int] = {}
    usage: dict[UsageCell, UsageRecord] = {}
    for part in run:
        if part.costs_replace:
            costs = {}
        if len(part.costs) == 1:  # most events carry one row: no cells to sum
            cost = part.costs[0]
            costs[(cost.node, cost.dimension)] = cost.amount_micros
        elif part.costs:
            costs.update(_cost_cells(part))
        scope = part.usage_replaces
        if scope is not None:
            usage = {
                k: v for k, v in usage.items() if not scope.first <= k[1] <= scope.last
            }
        if len(part.usage) == 1:
            row = part.usage[0]
            usage[_usage_key(row)] = row
        elif part.usage:
            usage.update(_usage_cells(part))
    day = run[-1].day
    # Built from validated events: construct without validating again (hot path).
    rows = [
        NodeCost.model_construct(node=n, date=day, dimension=k, amount_micros=v)
        for (n, k), v in costs.items()
    ]
    return rows, list(usage.values())


def _piece_id(part: _Part) -> uuid.UUID:
    if isinstance(part.event, DayInputsRouted):
        return part.event.event_id
    return uuid.uuid5(part.event.event_id, part.day.isoformat())


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _stamps(
    event: NodeCostsReported | UsageReported | DayInputsRouted,
) -> tuple[list[datetime], list[int]]:
    """An event's ingest times, and each in µs since the epoch (exact integers, so
    the spread of a piece is integer arithmetic, not datetime arithmetic)."""
    if not isinstance(event, DayInputsRouted):
        at = event.occurred_at
        return [at], [(at - _EPOCH) // _US]
    times = [at for at, n in event.ingest_times().items() for _ in range(n)]
    return times, [(at - _EPOCH) // _US for at in times]


def _ingest_fields(run: list[_Part]) -> dict[str, Any]:
    """ingested_at (the earliest), events, and each event's time after it."""
    if len(run) == 1:
        times, micros = run[0].times, run[0].micros
    else:
        times = [at for part in run for at in part.times]
        micros = [us for part in run for us in part.micros]
    least = min(micros)
    first = times[micros.index(least)]
    spread = [(us - least) // 1000 for us in micros]  # whole ms after the first
    if not any(spread):  # every event at ingested_at: nothing to carry
        spread = []
    return {"ingested_at": first, "events": len(times), "ingested_after_ms": spread}
