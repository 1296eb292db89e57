"""The compute process: dates allocated in another process store what a fresh
allocation gives, across changes-only requests, evictions, forgets, clears and the
process dying (a real spawned process; no broker or database needed)."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest

from allocator.compute.process import ComputeLost, ComputeProcess
from allocator.inputs.days import DayInputs, Touched
from tests.support.derived_flows import StoredDay
from tests.unit.allocator.test_day_groups import DAYS, _check, _seeded
from tests.unit.allocator.test_livedays import DAY, DIMS, Feed, _fresh


def _matches(stored: StoredDay, feed: Feed) -> bool:
    return (stored.nodes, stored.flows()) == _fresh(feed.graph, feed)


async def _allocate(proc: ComputeProcess, feed: Feed, stored: StoredDay) -> bool:
    """Allocate DAY with its pending changes; True when written whole."""
    computed = await proc.allocate(
        feed.graph, DAY, feed.state.days[DAY], proc.take(DAY)
    )
    stored.write(computed.delta)
    return computed.delta.complete


async def test_changes_only_requests_store_what_a_fresh_allocation_gives() -> None:
    feed, stored = Feed(5), StoredDay()
    # Every delta's node rows come back encoded for binary COPY, as busy dates' do.
    proc = ComputeProcess(engines=2, frames=2, encode_nodes_from=0)
    try:
        for node in feed.ids[:40]:
            proc.touch(DAY, feed.apply(feed.cost(node, DIMS[0], 1_000_000)))
        assert await _allocate(proc, feed, stored)  # sent whole, written whole
        for step in range(25):
            for _ in range(feed.rng.choice([1, 3, 12])):
                proc.touch(DAY, feed.apply(feed.random_event()))
            assert not await _allocate(proc, feed, stored), step
            assert _matches(stored, feed), step
        assert stored.encoded_nodes > 10
    finally:
        await proc.close()


async def test_evicted_forgotten_and_cleared_dates_are_sent_and_written_whole() -> None:
    feed, stored = Feed(6), StoredDay()
    proc = ComputeProcess(engines=1, frames=1)  # one mirror: another date evicts it
    try:
        proc.touch(DAY, feed.apply(feed.cost(feed.ids[0], "compute", 5_000_000)))
        await _allocate(proc, feed, stored)
        other = DAY + timedelta(days=3)
        await proc.allocate(feed.graph, other, DayInputs(), Touched())
        proc.touch(DAY, feed.apply(feed.cost(feed.ids[1], "compute", 7_000_000)))
        assert await _allocate(proc, feed, stored)  # its frame was evicted too
        assert _matches(stored, feed)
        proc.forget(DAY)
        proc.touch(DAY, feed.apply(feed.random_event()))
        assert await _allocate(proc, feed, stored)
        proc.clear()
        proc.touch(DAY, feed.apply(feed.random_event()))
        assert await _allocate(proc, feed, stored)
        assert _matches(stored, feed)
    finally:
        await proc.close()


async def test_a_dead_process_is_started_again_and_nothing_is_lost() -> None:
    feed, stored = Feed(8), StoredDay()
    proc = ComputeProcess(engines=2, frames=2)
    try:
        for node in feed.ids[:20]:
            proc.touch(DAY, feed.apply(feed.cost(node, "compute", 3_000_000)))
        await _allocate(proc, feed, stored)
        proc.touch(DAY, feed.apply(feed.cost(feed.ids[2], "compute", 1)))
        await _allocate(proc, feed, stored)
        assert proc._process is not None and proc._process.pid is not None
        os.kill(proc._process.pid, signal.SIGKILL)
        proc._process.join(10)
        touched = feed.apply(feed.random_event())
        with pytest.raises(ComputeLost):
            await proc.allocate(feed.graph, DAY, feed.state.days[DAY], touched)
        # The service, after a failure, makes the date dirty again: it is sent and
        # written whole.
        assert await _allocate(proc, feed, stored)
        assert _matches(stored, feed)
    finally:
        await proc.close()


async def test_consecutive_dates_in_one_request_store_what_fresh_ones_give() -> None:
    feed, _, stored = _seeded(11)  # three consecutive dates (test_day_groups)
    proc = ComputeProcess(engines=2, frames=8, encode_nodes_from=0)
    try:
        built: list[str | None] = []
        for step in range(12):
            for _ in range(feed.rng.choice([1, 5, 20])):
                feed.apply(feed.random_event())
            items = [(d, feed.state.days[d], feed.take(d)) for d in DAYS]
            futures = await proc.allocate_many(feed.graph, items)
            for day, future in zip(DAYS, futures, strict=True):
                outcome = await future
                assert not isinstance(outcome, Exception), outcome
                stored[day].write(outcome.delta)
                built.append(outcome.built)
            _check(feed, stored, step)
        assert built[:3] == ["grouped"] * 3 and built.count("grouped") == 3
    finally:
        await proc.close()


async def test_a_process_dying_under_a_group_fails_it_and_starts_again() -> None:
    feed, _, stored = _seeded(12)
    proc = ComputeProcess(engines=2, frames=8)
    try:
        items = [(d, feed.state.days[d], feed.take(d)) for d in DAYS]
        futures = await proc.allocate_many(feed.graph, items)
        for day, future in zip(DAYS, futures, strict=True):
            first = await future
            assert not isinstance(first, Exception)
            stored[day].write(first.delta)
        assert proc._process is not None and proc._process.pid is not None
        os.kill(proc._process.pid, signal.SIGKILL)
        proc._process.join(10)
        for _ in range(10):
            feed.apply(feed.random_event())
        items = [(d, feed.state.days[d], feed.take(d)) for d in DAYS]
        with pytest.raises(ComputeLost):  # sending, or each date's reply
            for future in await proc.allocate_many(feed.graph, items):
                await future
        # The service makes the dates dirty again: sent and written whole.
        items = [(d, feed.state.days[d], Touched()) for d in DAYS]
        futures = await proc.allocate_many(feed.graph, items)
        for day, future in zip(DAYS, futures, strict=True):
            outcome = await future
            assert not isinstance(outcome, Exception) and outcome.delta.complete
            stored[day].write(outcome.delta)
        _check(feed, stored, "restarted")
    finally:
        await proc.close()
