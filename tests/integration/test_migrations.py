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


async def test_the_derived_flows_upgrade_drops_written_flows_and_recomputes_dates(
    db: asyncpg.Connection, postgres_settings: PostgresSettings, tmp_path: Path
) -> None:
    """0070: allocation_contributions becomes a view over shares and node rows; the
    old rows are gone and every date is to be written whole again. 0080: the shares
    become one set per parent and dimension, carried over; the flows stay the same."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    folder = postgres_settings.migrations_dir
    search_path = await db.fetchval("SHOW search_path")
    before, upto = tmp_path / "before", tmp_path / "upto"
    _copy_migrations(folder, before, below="0070")
    _copy_migrations(folder, upto, below="0080")
    try:
        await apply_migrations(db, folder=before, schema=schema)
        await db.execute(f'SET search_path = "{schema}"')
        await db.execute(
            "INSERT INTO allocation_contributions (from_node, to_node, charge_date,"
            " dimension, amount, strategy, share) VALUES"
            " ('db', 'shop', '2025-01-01', 'compute', 1.5, 'equal', 0.5)"
        )
        await db.execute(
            "INSERT INTO allocator_days (charge_date, graph_version, input_offsets)"
            " VALUES ('2025-01-01', 1, '{}'::jsonb)"
        )
        applied = await apply_migrations(db, folder=upto, schema=schema)
        assert [m.name for m in applied] == ["derived_flows"]
        await db.execute(f'SET search_path = "{schema}"')
        kind = await db.fetchval(
            "SELECT table_type FROM information_schema.tables"
            " WHERE table_schema = $1 AND table_name = 'allocation_contributions'",
            schema,
        )
        assert kind == "VIEW"
        assert await db.fetchval("SELECT count(*) FROM allocator_days") == 0
        assert await db.fetchval("SELECT count(*) FROM grafana_flows_daily") == 0
        # 3 micro-units split 1/3, 2/3 (retained 0): 1 and 2, derived in SQL.
        await db.execute(
            "INSERT INTO allocation_results (node_id, charge_date, dimension, direct,"
            " indirect, holistic, allocated_out, retained) VALUES"
            " ('db', '2025-01-01', 'compute', 0.000003, 0, 0.000003, 0.000003, 0)"
        )
        await db.execute(
            "INSERT INTO allocation_shares (charge_date, from_node, dimension,"
            " position, to_node, strategy, share) VALUES"
            " ('2025-01-01', 'db', 'compute', 0, 'shop', 'proportional', 1.0 / 3),"
            " ('2025-01-01', 'db', 'compute', 1, 'blog', 'proportional', 2.0 / 3),"
            " ('2025-01-01', 'db', 'compute', 2, '', '', 0)"
        )
        rows = await db.fetch(
            "SELECT to_node, amount, strategy FROM grafana_flows_daily ORDER BY 1"
        )
        assert [tuple(r) for r in rows] == [
            ("blog", Decimal("0.000002"), "proportional"),
            ("shop", Decimal("0.000001"), "proportional"),
        ]
        shares = await db.fetch("SELECT * FROM allocation_shares ORDER BY position")
        await _upgrade_to_share_sets(db, folder, schema)
        assert await db.fetch("SELECT * FROM allocation_shares ORDER BY position") == (
            shares
        )
        rows = await db.fetch(
            "SELECT to_node, amount, strategy FROM grafana_flows_daily ORDER BY 1"
        )
        assert [tuple(r) for r in rows] == [
            ("blog", Decimal("0.000002"), "proportional"),
            ("shop", Decimal("0.000001"), "proportional"),
        ]
        # One set for two dimensions: each derives its flows from its own holistic.
        await db.execute(
            "UPDATE allocation_share_groups SET dimensions = '{compute,ml}'"
        )
        await db.execute(
            "INSERT INTO allocation_results (node_id, charge_date, dimension, direct,"
            " indirect, holistic, allocated_out, retained) VALUES"
            " ('db', '2025-01-01', 'ml', 0.000006, 0, 0.000006, 0.000006, 0)"
        )
        rows = await db.fetch(
            "SELECT dimension, to_node, amount FROM allocation_contributions"
            " ORDER BY 1, 2"
        )
        assert [tuple(r) for r in rows] == [
            ("compute", "blog", Decimal("0.000002")),
            ("compute", "shop", Decimal("0.000001")),
            ("ml", "blog", Decimal("0.000004")),
            ("ml", "shop", Decimal("0.000002")),
        ]
        assert (
            await db.fetchval(
                "SELECT count(*) FROM allocation_shares WHERE dimension = 'ml'"
            )
            == 3
        )  # two children and the retained row
    finally:
        await db.execute(f"SET search_path = {search_path}")
        await db.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _copy_migrations(folder: Path, into: Path, *, below: str) -> None:
    """The migrations whose names sort before `below`, copied into a folder."""
    into.mkdir()
    for migration in sorted(folder.glob("*.sql")):
        if migration.name < below:
            (into / migration.name).write_text(migration.read_text())


async def _upgrade_to_share_sets(
    db: asyncpg.Connection, folder: Path, schema: str
) -> None:
    """0080: the per-child share rows become one set per date, parent and dimension,
    carried over (allocator_days is kept: nothing is recomputed); 0090: each set a
    group of its one dimension."""
    await db.execute(
        "INSERT INTO allocator_days (charge_date, graph_version, input_offsets)"
        " VALUES ('2025-01-01', 1, '{}'::jsonb)"
    )
    applied = await apply_migrations(db, folder=folder, schema=schema)
    assert [m.name for m in applied] == ["share_sets", "share_groups"]
    await db.execute(f'SET search_path = "{schema}"')
    sets = await db.fetch("SELECT * FROM allocation_share_sets")
    assert [
        (r["from_node"], r["to_nodes"], r["strategies"], r["shares"], r["retained"])
        for r in sets
    ] == [("db", ["shop", "blog"], ["proportional"] * 2, [1.0 / 3, 2.0 / 3], 0.0)]
    assert await db.fetchval("SELECT count(*) FROM allocator_days") == 1
    # 0090: carried over as a group of one dimension
    groups = await db.fetch("SELECT dimension, dimensions FROM allocation_share_groups")
    assert [tuple(r) for r in groups] == [("compute", ["compute"])]
