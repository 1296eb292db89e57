"""Migrations apply to the real database, once each, and keep money exact."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from finops.adapters.migrations import apply_migrations, load_migrations
from finops.contracts.settings import PostgresSettings
from finops.errors import StoreConflictError

pytestmark = pytest.mark.integration

SEED_TABLES = {
    "cost_nodes",
    "dependency_edges",
    "edge_strategies",
    "node_costs_by_dimension",
    "node_usage_by_dimension",
    "computation_runs",
    "allocation_results",
    "allocation_contributions",
    "graph_versions",
    "processed_events",
    "schema_migrations",
}


async def test_migrations_create_the_data_model(
    db: asyncpg.Connection, postgres_settings: PostgresSettings
) -> None:
    rows = await db.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
        postgres_settings.db_schema,
    )
    assert {r["table_name"] for r in rows} >= SEED_TABLES


async def test_applying_again_changes_nothing(
    db: asyncpg.Connection, postgres_settings: PostgresSettings
) -> None:
    folder = postgres_settings.migrations_dir
    assert (
        await apply_migrations(db, folder=folder, schema=postgres_settings.db_schema)
        == []
    )
    count = await db.fetchval("SELECT count(*) FROM schema_migrations")
    assert count == len(load_migrations(folder))


async def test_credits_and_micro_amounts_are_stored_exactly(
    db: asyncpg.Connection,
) -> None:
    amounts = [Decimal("-12.345678"), Decimal("0.000001"), Decimal("1000000000.999999")]
    for i, amount in enumerate(amounts):
        await db.execute(
            "INSERT INTO node_costs_by_dimension"
            " (node_id, charge_date, dimension, source, amount)"
            " VALUES ($1, '2024-09-01', 'compute', 'test', $2)",
            f"n{i}",
            amount,
        )
    total = await db.fetchval("SELECT sum(amount) FROM node_costs_by_dimension")
    assert total == sum(amounts)


async def test_a_changed_migration_is_refused(
    db: asyncpg.Connection, tmp_path: Path
) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE first_table (id INT);")
    try:
        assert len(await apply_migrations(db, folder=tmp_path, schema=schema)) == 1
        (tmp_path / "0001_first.sql").write_text("CREATE TABLE other (id INT);")
        with pytest.raises(StoreConflictError, match="0001_first was changed"):
            await apply_migrations(db, folder=tmp_path, schema=schema)
    finally:
        await db.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def test_result_rows_must_add_up(db: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(
            "INSERT INTO allocation_results (node_id, charge_date, dimension, direct,"
            " indirect, holistic, allocated_out, retained)"
            " VALUES ('a', '2024-09-01', 'c', 1, 1, 3, 0, 3)"
        )
