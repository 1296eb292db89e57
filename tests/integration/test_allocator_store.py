"""The allocator's store on the real database: node rows and shares written in one
transaction, and the flows the allocation_contributions view derives from them equal
to a fresh allocation's (`finops allocate`) to the micro-unit, after a cost change,
a usage change (plans replaced), random events and a write of the date whole."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta

import asyncpg
import pytest

from allocator.compute.livedays import LiveDays
from allocator.offsets import DayOffsets, InputOffset, OriginOffset
from allocator.ports import DayWrite
from allocator.store import PostgresResultStore
from finops.contracts.settings import PostgresSettings
from tests.unit.allocator.test_livedays import DAY, Feed, _fresh

pytestmark = pytest.mark.integration

OFFSETS = DayOffsets(InputOffset(0, 1), OriginOffset("finops.usage.v1", 2, 3))


@pytest.fixture
async def store(
    postgres_settings: PostgresSettings,
) -> AsyncIterator[PostgresResultStore]:
    pool = await asyncpg.create_pool(
        postgres_settings.database_url,
        server_settings={"search_path": postgres_settings.db_schema},
    )
    try:
        yield PostgresResultStore(pool)
    finally:
        await pool.close()


async def _flows(
    db: asyncpg.Connection, day: date
) -> dict[tuple[str, str, str], tuple[int, str, float]]:
    """The view's flows of a date, amounts in micro-units."""
    rows = await db.fetch(
        "SELECT from_node, to_node, dimension, (amount * 1000000)::bigint AS amount,"
        " strategy, share FROM allocation_contributions WHERE charge_date = $1",
        day,
    )
    return {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in rows}


async def _nodes(
    db: asyncpg.Connection, day: date
) -> dict[tuple[str, str], tuple[int, ...]]:
    rows = await db.fetch(
        "SELECT node_id, dimension, (direct * 1000000)::bigint,"
        " (indirect * 1000000)::bigint, (holistic * 1000000)::bigint,"
        " (allocated_out * 1000000)::bigint, (retained * 1000000)::bigint"
        " FROM allocation_results WHERE charge_date = $1",
        day,
    )
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


class Writer:
    """A date computed by LiveDays (node rows encoded as the compute process does)
    and written by the store, as the service writes it."""

    def __init__(self, store: PostgresResultStore, feed: Feed, day: date) -> None:
        self.store, self.feed, self.day = store, feed, day
        self.live = LiveDays(engines=2, frames=2)
        self.live.encode_nodes_from = 0

    async def write(self) -> DayWrite:
        inputs = self.feed.state.days[DAY]
        computed = self.live.compute(
            self.feed.graph, self.day, inputs, self.live.take(self.day)
        )
        write = DayWrite(self.day, computed.delta, uuid.uuid4(), 1, OFFSETS)
        await self.store.write_results(write)
        return write


async def test_derived_flows_equal_a_fresh_allocation_after_every_change(
    db: asyncpg.Connection, store: PostgresResultStore
) -> None:
    feed = Feed(11)
    other = DAY + timedelta(days=1)  # the same inputs stored under another date
    writer, neighbour = Writer(store, feed, DAY), Writer(store, feed, other)

    async def check(step: str) -> None:
        nodes, flows = _fresh(feed.graph, feed)
        assert await _nodes(db, DAY) == nodes, step
        assert await _flows(db, DAY) == flows, step  # amounts to the micro-unit

    for node in feed.ids[:40]:
        writer.live.touch(DAY, feed.apply(feed.cost(node, "compute", 1_000_003)))
    assert (await writer.write()).delta.complete
    await neighbour.write()
    before_other = await _flows(db, other)
    await check("first write")

    writer.live.touch(DAY, feed.apply(feed.cost(feed.ids[3], "compute", 987_654_321)))
    write = await writer.write()
    assert write.delta.shares.is_empty  # a cost change: node rows only
    await check("cost change")

    for target in feed.targets[:5]:
        writer.live.touch(DAY, feed.apply(feed.usage(target, 17.5)))
    write = await writer.write()
    shares = write.delta.shares
    assert shares.rows is not None and not shares.complete
    assert shares.parents == []  # the same children: changed rows upserted only
    await check("usage change: plans replaced")

    for step in range(15):
        for _ in range(feed.rng.choice([1, 3, 12])):
            writer.live.touch(DAY, feed.apply(feed.random_event()))
        await writer.write()
        await check(f"random step {step}")

    writer.live.forget(DAY)  # e.g. a failed write: the date is written whole
    assert (await writer.write()).delta.complete
    await check("written whole")
    assert await _flows(db, other) == before_other  # the other date is untouched
    stored = await db.fetchrow(
        "SELECT graph_version, input_offsets FROM allocator_days"
        " WHERE charge_date = $1",
        DAY,
    )
    assert stored is not None
    assert tuple(stored) == (1, '{"inputs": "0/1", "origin": "finops.usage.v1/2/3"}')
    assert (await store.stored_days())[DAY] == (1, OFFSETS)
