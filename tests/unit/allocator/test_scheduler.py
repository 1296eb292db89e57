"""The pass scheduler: which dirty dates a pass computes, in what order, and when."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from allocator.scheduler import PassScheduler, pass_order

NOW = datetime(2025, 3, 11, tzinfo=UTC)
D1, D2, D3, D4 = (date(2025, 3, d) for d in (1, 2, 3, 4))
DIRTY = {
    D1: [(NOW, 1)],
    D2: [(NOW, 5), (NOW, 4)],  # 9 events
    D3: [],  # e.g. a new graph version: no event waits
    D4: [(NOW, 2)],
}


def test_a_pass_starts_with_heavy_writes_then_the_dates_most_events_wait_for() -> None:
    assert pass_order(DIRTY, heavy={D3}) == [D3, D2, D4, D1]
    assert pass_order(DIRTY, heavy=set()) == [D2, D4, D1, D3]


def test_dates_whose_flows_are_still_being_written_come_last() -> None:
    assert pass_order(DIRTY, heavy=set(), later={D2}) == [D4, D1, D3, D2]


def test_a_pass_covers_owned_dates_and_takes_each_once_with_its_waits() -> None:
    scheduler = PassScheduler()
    for day, waits in DIRTY.items():
        scheduler.add(day, waits)
    scheduler.add(D1, [(NOW, 3)])  # more events behind the same date
    assert not scheduler.changed.is_set()  # the caller decides when a pass is due
    owned = {D1, D2}.__contains__
    assert scheduler.order(owned, heavy=set(), later=()) == [D2, D1]
    assert scheduler.take(D1) == [(NOW, 1), (NOW, 3)]
    assert scheduler.take(D1) is None
    scheduler.keep(owned)  # a rebalance
    assert scheduler.dirty == {D2: [(NOW, 5), (NOW, 4)]}


async def test_a_wake_up_starts_a_pass_once_held_back_flows_are_due() -> None:
    scheduler = PassScheduler()
    scheduler.wake_after(60.0)
    scheduler.wake_after(0.0)  # replaces the earlier wake-up
    await asyncio.wait_for(scheduler.changed.wait(), 1)
    scheduler.changed.clear()
    scheduler.wake_after(0.0)
    scheduler.wake_after(None)  # nothing due any more
    await asyncio.sleep(0.05)
    assert not scheduler.changed.is_set()
