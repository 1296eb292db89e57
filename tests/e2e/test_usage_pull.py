"""`finops usage pull` from a real Prometheus into the ingest service as a process."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from finops.contracts.events import UsageReported
from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops.contracts.topics import USAGE
from tests.support.cli import run_finops
from tests.support.ingest_helpers import read_topic
from tests.support.ingest_process import ingest_process
from tests.support.prometheus import Counter, PrometheusServer, prometheus_server
from tests.support.tokens import create_token

pytestmark = pytest.mark.e2e

DAYS = (date(2024, 9, 1), date(2024, 9, 2), date(2024, 9, 3))
RATE = "sum by (app) (rate(http_requests_total[1d]))"
INCREASE = "sum by (app) (increase(http_requests_total[1d]))"
# Per-second rates: shop's two instances add up; one series has no app label.
COUNTERS = (
    Counter(
        "http_requests",
        {"app": "shop", "instance": "a"},
        dict(zip(DAYS, (2.0, 4.0, 6.0), strict=True)),
    ),
    Counter(
        "http_requests", {"app": "shop", "instance": "b"}, dict.fromkeys(DAYS, 1.0)
    ),
    Counter(
        "http_requests", {"app": "search", "instance": "a"}, dict.fromkeys(DAYS, 0.5)
    ),
    Counter("http_requests", {"instance": "batch"}, dict.fromkeys(DAYS, 9.0)),
)


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[PrometheusServer]:
    root = tmp_path / "prometheus"
    root.mkdir()
    with prometheus_server(root, COUNTERS) as server:
        yield server


@pytest.fixture
def ingest_url(
    kafka_settings: KafkaSettings,
    postgres_settings: PostgresSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    # The commands send FINOPS_TOKEN (the service requires a token).
    monkeypatch.setenv("FINOPS_TOKEN", asyncio.run(create_token(postgres_settings)))
    with ingest_process(kafka_settings, postgres_settings, tmp_path) as url:
        yield url


def _pull(
    prometheus: str, ingest: str, query: str, *extra: str
) -> tuple[int, str, str]:
    done = run_finops(
        "usage",
        "pull",
        "--prometheus",
        prometheus,
        "--query",
        query,
        "--metric",
        "requests",
        "--node",
        "{app}",
        "--from",
        "2024-09-01",
        "--to",
        "2024-09-03",
        "--url",
        ingest,
        "--json",
        *extra,
        env=dict(os.environ),
    )
    return done.returncode, done.stdout, done.stderr


async def _stored(db: asyncpg.Connection) -> dict[tuple[str, str], Decimal]:
    rows = await db.fetch(
        "SELECT node_id, usage_date, value, source FROM node_usage_by_dimension"
    )
    assert {r["source"] for r in rows} <= {"prometheus:requests/2024-09-01"}
    return {(r["node_id"], r["usage_date"].isoformat()): r["value"] for r in rows}


async def test_usage_pull_publishes_daily_usage_as_an_upload_would(
    prometheus: PrometheusServer,
    ingest_url: str,
    kafka_settings: KafkaSettings,
    db: asyncpg.Connection,
) -> None:
    code, out, err = _pull(prometheus.url, ingest_url, RATE)
    assert code == 0, err
    assert "series {} lacks a label of --node" in err
    result = json.loads(out)
    assert result["origin"] == "upload" and result["format"] == "usage"
    assert (result["rows_read"], result["rows_accepted"], result["rows_rejected"]) == (
        9,
        6,
        3,
    )
    assert result["source"] == "prometheus:requests"
    assert result["billing_periods"] == ["2024-09-01"]
    stored = await _stored(db)
    assert stored == {
        ("shop", "2024-09-01"): Decimal(3),
        ("shop", "2024-09-02"): Decimal(5),
        ("shop", "2024-09-03"): Decimal(7),
        ("search", "2024-09-01"): Decimal("0.5"),
        ("search", "2024-09-02"): Decimal("0.5"),
        ("search", "2024-09-03"): Decimal("0.5"),
    }
    events = await read_topic(kafka_settings, USAGE, count=3)
    published = {
        (u.node, u.date.isoformat()): u.value
        for _, e in events
        if isinstance(e, UsageReported)
        for u in e.usage
    }
    assert published == {k: float(v) for k, v in stored.items()}

    code, out, _ = _pull(prometheus.url, ingest_url, RATE)
    assert code == 0 and json.loads(out)["duplicate"] is True

    # The same source pulled again with another query restates the month whole.
    code, out, _ = _pull(prometheus.url, ingest_url, INCREASE)
    assert code == 0
    assert await _stored(db) == {key: value * 86_400 for key, value in stored.items()}


def test_usage_pull_refuses_days_to_come_and_says_so_in_one_line(
    prometheus: PrometheusServer,
) -> None:
    done = run_finops(
        "usage",
        "pull",
        "--prometheus",
        prometheus.url,
        "--query",
        RATE,
        "--metric",
        "requests",
        "--node",
        "{app}",
        "--from",
        "2024-09-01",
        "--to",
        "2999-01-01",
        env=dict(os.environ),
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "is after today" in done.stderr
