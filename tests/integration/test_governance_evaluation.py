"""Budget evaluation against the real PostgreSQL: node, dimension and organisation
scopes from stored allocation results, once per crossing, restatements resolve."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import asyncpg
import pytest

from finops.adapters.governance_store import apply_governance
from finops.contracts.settings import PostgresSettings
from finops.errors import InputError
from finops.formats.governancefile import parse_governance
from governance.service import BudgetEvaluator
from governance.store import GovernanceStore

pytestmark = pytest.mark.integration

NOV = date(2026, 11, 1)
FILE = """budgets:
  - id: shop
    name: Shop
    amount: "100"
    scope: {node: shop}
    thresholds: [{percent: 80}, {percent: 100, basis: forecast}]
  - id: shop-compute
    name: Shop compute
    amount: "30"
    scope: {node: shop, dimension: compute}
    thresholds: [{percent: 100}]
  - id: everything
    name: Organisation
    amount: "1000"
    period: quarter
    thresholds: [{percent: 10}]
"""


async def _results(
    conn: asyncpg.Connection, day: date, node: str, dimension: str, amount: str
) -> None:
    value = Decimal(amount)
    await conn.execute(
        """INSERT INTO allocation_results (node_id, charge_date, dimension, direct,
            indirect, holistic, allocated_out, retained)
        VALUES ($1, $2, $3, $4, 0, $4, 0, $4)
        ON CONFLICT (node_id, charge_date, dimension) DO UPDATE SET
            direct = EXCLUDED.direct, holistic = EXCLUDED.holistic,
            retained = EXCLUDED.retained""",
        node,
        day,
        dimension,
        value,
    )


async def test_node_and_organisation_budgets_fire_once_and_resolve(
    postgres_settings: PostgresSettings, db: asyncpg.Connection
) -> None:
    await db.execute(
        "INSERT INTO cost_nodes (node_id, node_type, graph_version) "
        "VALUES ('shop', 'product', 1)"
    )
    config, line_of = parse_governance(FILE, name="budgets.yaml")
    await apply_governance(db, config, line_of, file_name="budgets.yaml")
    for offset in range(10):  # $9 a day: compute 3, storage 6
        day = NOV + timedelta(days=offset)
        await _results(db, day, "shop", "compute", "3")
        await _results(db, day, "shop", "storage", "6")
    pool = await asyncpg.create_pool(
        postgres_settings.database_url,
        server_settings={"search_path": postgres_settings.db_schema},
        min_size=1,
        max_size=2,
    )
    try:
        evaluator = BudgetEvaluator(GovernanceStore(pool))
        await evaluator.refresh_config()
        first = await evaluator.run_pass()
        assert first.budgets == 3
        alerts = await db.fetch(
            "SELECT budget_id, status, percent, basis, spent, forecast, period_start "
            "FROM budget_alerts ORDER BY budget_id, basis"
        )
        # shop: $90 spent (>= 80), forecast 90 + 9 x 20 = 270 (>= 100); compute: 30;
        # the organisation: $90 of $1,000 a quarter, under 10 %
        assert [(a["budget_id"], a["status"], a["basis"]) for a in alerts] == [
            ("shop", "alert", "actual"),
            ("shop", "alert", "forecast"),
            ("shop-compute", "alert", "actual"),
        ]
        assert alerts[0]["spent"] == Decimal(90) and alerts[1]["forecast"] == Decimal(
            270
        )
        assert alerts[0]["period_start"] == NOV

        # the same days again (a replay, a duplicate event): nothing new
        evaluator.touch([NOV + timedelta(days=3)], "test/0/1")
        await evaluator.run_pass()
        assert await db.fetchval("SELECT count(*) FROM budget_alerts") == 3

        # a restatement: the allocator rewrote two days lower; the 80 % alert resolves
        for offset in (8, 9):
            day = NOV + timedelta(days=offset)
            await _results(db, day, "shop", "compute", "0")
            await _results(db, day, "shop", "storage", "0")
        evaluator.touch([NOV + timedelta(days=8), NOV + timedelta(days=9)], "test/0/2")
        await evaluator.run_pass()
        changed = await db.fetch(
            "SELECT budget_id, status, basis, spent FROM budget_alerts WHERE seq > 3 "
            "ORDER BY seq"
        )
        assert {(c["budget_id"], c["status"], c["basis"]) for c in changed} == {
            ("shop", "resolved", "actual"),
            ("shop-compute", "resolved", "actual"),
        }
        # the organisation: a big day in December (same quarter) crosses its 10 %
        await _results(db, date(2026, 12, 2), "shop", "storage", "50")
        evaluator.touch([date(2026, 12, 2)], "test/0/3")
        await evaluator.run_pass()
        org = await db.fetch(
            "SELECT period_start, spent FROM budget_alerts "
            "WHERE budget_id = 'everything'"
        )
        assert [(o["period_start"], o["spent"]) for o in org] == [
            (date(2026, 10, 1), Decimal(72 + 50))
        ]
    finally:
        await pool.close()


async def test_an_unknown_node_refuses_the_whole_file(db: asyncpg.Connection) -> None:
    config, line_of = parse_governance(FILE, name="budgets.yaml")
    with pytest.raises(InputError) as caught:
        await apply_governance(db, config, line_of, file_name="budgets.yaml")
    assert str(caught.value).startswith("budgets.yaml:5:")
    assert "unknown node 'shop'" in str(caught.value)
    assert await db.fetchval("SELECT count(*) FROM governance_items") == 0


async def test_applying_writes_only_differences_and_versions_each_change(
    db: asyncpg.Connection,
) -> None:
    await db.execute(
        "INSERT INTO cost_nodes (node_id, node_type, graph_version) "
        "VALUES ('shop', 'product', 1)"
    )
    config, line_of = parse_governance(FILE, name="a.yaml")
    first = await apply_governance(db, config, line_of, file_name="a.yaml")
    assert first.version == 1 and first.added["budget"] == [
        "shop",
        "shop-compute",
        "everything",
    ]
    same = await apply_governance(db, config, line_of, file_name="a.yaml")
    assert not same.any and same.version is None
    # one budget changed, one removed: a new version (governance reloads on it)
    edited = FILE.replace('amount: "100"', 'amount: "120"').split("  - id: everything")[
        0
    ]
    config, line_of = parse_governance(edited, name="b.yaml")
    changes = await apply_governance(db, config, line_of, file_name="b.yaml")
    assert changes.version == 2
    assert changes.changed["budget"] == ["shop"]
    assert changes.removed["budget"] == ["everything"]
    assert changes.unchanged["budget"] == ["shop-compute"]
    assert await db.fetchval("SELECT max(version) FROM governance_versions") == 2


async def test_a_node_budget_before_any_result_is_stored_reads_zero(
    postgres_settings: PostgresSettings, db: asyncpg.Connection
) -> None:
    """It stopped the evaluation loop once (an index into an empty array)."""
    await db.execute(
        "INSERT INTO cost_nodes (node_id, node_type, graph_version) "
        "VALUES ('shop', 'product', 1)"
    )
    config, line_of = parse_governance(FILE, name="budgets.yaml")
    await apply_governance(db, config, line_of, file_name="budgets.yaml")
    await db.execute(
        "INSERT INTO allocator_days (charge_date, graph_version) VALUES ($1, 1)", NOV
    )
    pool = await asyncpg.create_pool(
        postgres_settings.database_url,
        server_settings={"search_path": postgres_settings.db_schema},
        min_size=1,
        max_size=2,
    )
    try:
        evaluator = BudgetEvaluator(GovernanceStore(pool))
        await evaluator.refresh_config()
        report = await evaluator.run_pass()
        assert report.budgets == 3 and report.alerts == 0
    finally:
        await pool.close()
