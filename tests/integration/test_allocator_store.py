"""The allocator's store on the real database: flows and node rows encoded for binary
COPY (as the compute process sends them) are stored exactly as the same rows given as
tuples."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal

import asyncpg
import pytest

from allocator.compute.daydelta import DayDelta, FlowKey, FlowRow, NodeKey, NodeRow
from allocator.offsets import DayOffsets, InputOffset, OriginOffset
from allocator.pgcopy.delta import EncodedDelta
from allocator.pgcopy.flows import encode_flows
from allocator.pgcopy.format import CopyRows
from allocator.pgcopy.nodes import EncodedNodes
from allocator.ports import DayWrite
from allocator.store import PostgresResultStore
from finops.contracts.settings import PostgresSettings
from tests.support.pgcopy_reader import encode_by_arrays, encode_nodes_by_arrays

pytestmark = pytest.mark.integration

FLOWS = {
    ("shared-db", "checkout", "compute"): (1_234_567, "proportional", 0.25),
    ("shared-db", "search", "compute"): (3_703_701, "proportional", 0.75),
    ("platform", "checkout", "storage"): (-5, "fixed_percent", 1 / 3),
    ("platform", "żółw-ünïcode", "storage"): (10**15, "equal", 1.0),
}
NODES = {("checkout", "compute"): (0, 1_234_567, 1_234_567, 0, 1_234_567)}
OFFSETS = DayOffsets(InputOffset(0, 1), OriginOffset("finops.usage.v1", 2, 3))


def _delta(
    nodes: dict[NodeKey, NodeRow] | EncodedNodes,
    flows: dict[FlowKey, FlowRow] | CopyRows,
    removed: tuple[list[NodeKey], list[FlowKey]] = ([], []),
    *,
    complete: bool,
) -> EncodedDelta:
    """A delta with rows given plain or encoded, as the compute process sends them."""
    plain = DayDelta(
        nodes if isinstance(nodes, dict) else {},
        flows if isinstance(flows, dict) else {},
        *removed,
        complete=complete,
    )
    return EncodedDelta(
        plain,
        None if isinstance(nodes, dict) else nodes,
        None if isinstance(flows, dict) else flows,
    )


async def _write(
    store: PostgresResultStore,
    day: date,
    delta: EncodedDelta,
    run: uuid.UUID,
    version: int,
) -> None:
    """A date's node rows, then its flows, as the service writes them."""
    write = DayWrite(day, delta, run, version, OFFSETS)
    await store.write_results(write, mark=False)
    await store.write_flows(write)


async def _flows(
    db: asyncpg.Connection, day: date
) -> dict[tuple[str, ...], tuple[object, ...]]:
    rows = await db.fetch(
        "SELECT from_node, to_node, dimension, amount, strategy, share"
        " FROM allocation_contributions WHERE charge_date = $1",
        day,
    )
    return {
        (r["from_node"], r["to_node"], r["dimension"]): (
            r["amount"],
            r["strategy"],
            r["share"],
        )
        for r in rows
    }


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


async def test_flows_encoded_for_binary_copy_store_the_same_rows(
    db: asyncpg.Connection, store: PostgresResultStore
) -> None:
    as_tuples, as_copy = date(2025, 3, 1), date(2025, 3, 2)
    by_arrays = date(2025, 3, 3)
    for day, rows, flows in (
        (as_tuples, NODES, FLOWS),
        (as_copy, NODES, encode_flows(FLOWS)),
        (by_arrays, encode_nodes_by_arrays(NODES), encode_by_arrays(FLOWS)),
    ):
        await _write(store, day, _delta(rows, flows, complete=True), uuid.uuid4(), 1)
    stored = await _flows(db, as_copy)
    assert stored == await _flows(db, as_tuples) == await _flows(db, by_arrays)
    nodes = {k: v[:5] for k, v in (await _nodes(db, as_tuples)).items()}
    assert nodes == {k: _money(v) for k, v in NODES.items()}
    assert {k: v[:5] for k, v in (await _nodes(db, by_arrays)).items()} == nodes
    expected = {k: (Decimal(a) / 1_000_000, s, sh) for k, (a, s, sh) in FLOWS.items()}
    assert stored == expected
    assert encode_flows(FLOWS).dimensions == {"compute", "storage"}


async def _nodes(
    db: asyncpg.Connection, day: date
) -> dict[tuple[str, str], tuple[object, ...]]:
    rows = await db.fetch(
        "SELECT node_id, dimension, direct, indirect, holistic, allocated_out,"
        " retained, run_id FROM allocation_results WHERE charge_date = $1",
        day,
    )
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def _money(row: tuple[int, ...]) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) / 1_000_000 for v in row)


async def test_a_later_delta_updates_inserts_and_removes_rows_of_its_date_only(
    db: asyncpg.Connection, store: PostgresResultStore
) -> None:
    day, other = date(2025, 4, 1), date(2025, 4, 2)
    first, later = uuid.uuid4(), uuid.uuid4()
    nodes = {
        **NODES,
        ("search", "compute"): (0, 3_703_701, 3_703_701, 0, 3_703_701),
        ("platform", "storage"): (7, 0, 7, 7, 0),
    }
    for d, run in ((day, first), (other, uuid.uuid4())):
        whole = _delta(nodes, encode_flows(FLOWS), complete=True)
        await _write(store, d, whole, run, 1)
    changed = {
        ("search", "compute"): (0, 1, 1, 0, 1),  # updated
        ("ledger", "compute"): (2, 0, 2, 0, 2),  # new
    }
    flows = {
        ("shared-db", "search", "compute"): (1, "proportional", 0.5),
        ("shared-db", "ledger", "compute"): (2, "proportional", 0.5),
    }
    delta = _delta(
        changed,
        encode_flows(flows),
        ([("platform", "storage")], [("platform", "checkout", "storage")]),
        complete=False,
    )
    await _write(store, day, delta, later, 2)
    want = {k: (*_money(v), first) for k, v in nodes.items() if k[0] != "platform"}
    want |= {k: (*_money(v), later) for k, v in changed.items()}
    assert await _nodes(db, day) == want
    expected = {k: (Decimal(a) / 1_000_000, s, sh) for k, (a, s, sh) in FLOWS.items()}
    assert await _flows(db, other) == expected  # the other date is untouched
    del expected[("platform", "checkout", "storage")]
    expected |= {k: (Decimal(a) / 1_000_000, s, sh) for k, (a, s, sh) in flows.items()}
    assert await _flows(db, day) == expected
    stored = await db.fetchrow(
        "SELECT graph_version, input_offsets FROM allocator_days"
        " WHERE charge_date = $1",
        day,
    )
    assert stored is not None  # written with the flows, not before
    assert tuple(stored) == (2, '{"inputs": "0/1", "origin": "finops.usage.v1/2/3"}')
    assert (await store.stored_days())[day] == (2, OFFSETS)
