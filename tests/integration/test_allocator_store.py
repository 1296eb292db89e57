"""The allocator's store on the real database: flows encoded for binary COPY (as the
compute process sends them) are stored exactly as the same rows given as tuples."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import asyncpg
import pytest

from allocator.dayresults import DayDelta
from allocator.pgcopy import encode_flows
from allocator.store import PostgresResultStore
from finops.settings import PostgresSettings
from tests.support.pgcopy_reader import encode_by_arrays

pytestmark = pytest.mark.integration

FLOWS = {
    ("shared-db", "checkout", "compute"): (1_234_567, "proportional", 0.25),
    ("shared-db", "search", "compute"): (3_703_701, "proportional", 0.75),
    ("platform", "checkout", "storage"): (-5, "fixed_percent", 1 / 3),
    ("platform", "żółw-ünïcode", "storage"): (10**15, "equal", 1.0),
}
NODES = {("checkout", "compute"): (0, 1_234_567, 1_234_567, 0, 1_234_567)}


async def _flows(db: asyncpg.Connection, day: date) -> dict[tuple[str, ...], tuple]:  # type: ignore[type-arg]
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


async def test_flows_encoded_for_binary_copy_store_the_same_rows(
    db: asyncpg.Connection, postgres_settings: PostgresSettings
) -> None:
    pool = await asyncpg.create_pool(
        postgres_settings.database_url,
        server_settings={"search_path": postgres_settings.db_schema},
    )
    try:
        store = PostgresResultStore(pool)
        as_tuples, as_copy = date(2025, 3, 1), date(2025, 3, 2)
        by_arrays = date(2025, 3, 3)
        for day, flows in (
            (as_tuples, FLOWS),
            (as_copy, encode_flows(FLOWS)),
            (by_arrays, encode_by_arrays(FLOWS)),
        ):
            delta = DayDelta(NODES, flows, [], [], complete=True)  # type: ignore[arg-type]
            await store.write_day(
                day, delta, run_id=uuid.uuid4(), graph_version=1, offsets={}
            )
    finally:
        await pool.close()
    stored = await _flows(db, as_copy)
    assert stored == await _flows(db, as_tuples) == await _flows(db, by_arrays)
    expected = {k: (Decimal(a) / 1_000_000, s, sh) for k, (a, s, sh) in FLOWS.items()}
    assert stored == expected
    assert encode_flows(FLOWS).dimensions == {"compute", "storage"}
