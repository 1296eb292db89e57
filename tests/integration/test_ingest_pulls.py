"""The ingest service's periodic usage pulls (INGEST_PULLS) from a real Prometheus."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from finops.contracts.settings import KafkaSettings, PostgresSettings
from tests.support.deadline import Deadline
from tests.support.ingest_helpers import ingest_client, ingest_settings
from tests.support.prometheus import Counter, prometheus_server

pytestmark = pytest.mark.integration


async def test_configured_pulls_run_at_start_and_store_the_last_days(
    kafka_settings: KafkaSettings,
    postgres_settings: PostgresSettings,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=n) for n in (3, 2, 1)]
    counters = [
        Counter("jobs", {"team": "shop"}, dict.fromkeys(days, 1.0)),
        Counter("jobs", {"team": "search"}, dict.fromkeys(days, 2.0)),
    ]
    (tmp_path / "prom").mkdir()
    with prometheus_server(tmp_path / "prom", counters) as prometheus:
        pulls = tmp_path / "pulls.yaml"
        pulls.write_text(
            "pulls:\n"
            "  - name: jobs\n"
            f"    prometheus: {prometheus.url}\n"
            "    query: sum by (team) (rate(jobs_total[1d]))\n"
            "    metric: jobs\n"
            "    node: 'team-{team}'\n"
            "    interval: 1h\n"
            "    lookback_days: 3\n"
        )
        settings = ingest_settings(
            kafka_settings,
            postgres_settings,
            tmp_path,
            consume_cost_lines=False,
            pulls=pulls,
        )
        async with ingest_client(settings):
            wait = Deadline(60, "the configured pull's ingest run")
            while not await db.fetchval(
                "SELECT count(*) FROM ingest_runs WHERE origin = 'pull'"
            ):
                wait.check()
                await asyncio.sleep(0.2)
    run = await db.fetchrow("SELECT * FROM ingest_runs WHERE origin = 'pull'")
    assert run is not None
    assert run["status"] == "succeeded" and run["source"] == "prometheus:jobs"
    assert run["format"] == "usage" and run["rows_rejected"] == 0
    rows = await db.fetch(
        "SELECT node_id, usage_date, value, source FROM node_usage_by_dimension"
    )
    assert {(r["node_id"], r["usage_date"]): r["value"] for r in rows} == {
        (node, day): Decimal(value)
        for day in days
        for node, value in (("team-shop", 1), ("team-search", 2))
    }
    assert {r["source"] for r in rows} == {
        f"prometheus:jobs/{day.replace(day=1).isoformat()}" for day in days
    }
