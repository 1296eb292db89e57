"""Which dates a recompute pass covers, in what order, and when the next is due."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterable
from datetime import date, datetime

__all__ = ["PassScheduler", "Waits", "pass_order"]

Waits = list[tuple[datetime, int]]  # (ingest time, events) behind a dirty date


class PassScheduler:
    """Dirty dates, the events waiting behind each, the signal that a pass is due."""

    def __init__(self) -> None:
        self.dirty: dict[date, Waits] = {}
        self.changed = asyncio.Event()  # set: a pass has something to do
        self._wake: asyncio.TimerHandle | None = None

    def add(self, day: date, waits: Iterable[tuple[datetime, int]] = ()) -> None:
        """The date is due in the next pass, with these events behind it (the
        caller sets `changed` when that pass should start)."""
        self.dirty.setdefault(day, []).extend(waits)

    def take(self, day: date) -> Waits | None:
        """A date of the pass under way (None: no longer dirty)."""
        return self.dirty.pop(day, None)

    def keep(self, owns: Callable[[date], bool]) -> None:
        """After a rebalance: only the dates still owned stay dirty."""
        self.dirty = {d: w for d, w in self.dirty.items() if owns(d)}

    def order(
        self,
        owns: Callable[[date], bool],
        *,
        heavy: Collection[date] = (),
        later: Collection[date] = (),
    ) -> list[date]:
        """The owned dirty dates in the order a pass computes them (pass_order)."""
        owned = {d: w for d, w in self.dirty.items() if owns(d)}
        return pass_order(owned, heavy, later)

    def wake_after(self, seconds: float | None) -> None:
        """Start a pass after this long even if no input arrives (None: no need)."""
        if self._wake is not None:
            self._wake.cancel()
        if seconds is not None:
            loop = asyncio.get_running_loop()
            self._wake = loop.call_later(seconds + 0.01, self.changed.set)


def pass_order(
    dirty: dict[date, Waits],
    heavy: Collection[date] = (),
    later: Collection[date] = (),
) -> list[date]:
    """The order to compute dirty dates in: heavy writes first, so they overlap the
    computing of the rest; dates `later` last, so the others need not wait for them;
    in between, the dates most events wait for, so fewer wait long; then by date."""

    def key(day: date) -> tuple[bool, bool, int, date]:
        return day not in heavy, day in later, -sum(n for _, n in dirty[day]), day

    return sorted(dirty, key=key)
