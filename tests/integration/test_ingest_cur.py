"""AWS CUR uploads through the ingest service: real broker and database, restatement."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest

from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.offline import normalize_paths
from finops.domain.yamltext import load_yaml
from tests.support.cur_files import (
    PAYER,
    CurRow,
    cur_rows,
    write_cur2_parquet,
    write_legacy_csv,
)
from tests.support.ingest_helpers import ingest_client, ingest_settings

pytestmark = pytest.mark.integration

SEPTEMBER, OCTOBER = date(2024, 9, 1), date(2024, 10, 1)
MICRO = Decimal("0.000001")
RULES = b"""
cost_column: BilledCost
rules:
  - when: {"Tags.team": "*"}
    node: "team-{Tags.team}"
"""


@pytest.fixture
async def client(
    kafka_settings: KafkaSettings, postgres_settings: PostgresSettings, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ingest_settings(
        kafka_settings, postgres_settings, tmp_path, consume_cost_lines=False
    )
    async with ingest_client(settings) as http:
        yield http


def _normalized_total(path: Path) -> Decimal:
    """Node costs of `finops focus normalize` on the file, summed: each (source,
    period, node, day, dimension) rounded once (tests/unit/focus/test_cur.py checks
    them against an independent Decimal sum)."""
    rules = MappingRules.model_validate(load_yaml(RULES.decode()))
    costs = normalize_paths([path], rules).costs["amount_micros"].to_pylist()
    return Decimal(sum(costs)) * MICRO


def _billed_total(rows: list[CurRow]) -> Decimal:
    """Independent: each line's billed cost rounded to micro-units, summed."""
    return sum(
        (
            Decimal(
                r["lineItem/NetUnblendedCost"] or r["lineItem/UnblendedCost"]
            ).quantize(MICRO, ROUND_HALF_EVEN)
            for r in rows
        ),
        Decimal(0),
    )


async def _upload(
    client: httpx.AsyncClient, path: Path, rules_id: str, fmt: str
) -> dict[str, object]:
    response = await client.post(
        "/ingests",
        params={"filename": path.name, "format": fmt, "rules": rules_id},
        content=path.read_bytes(),
    )
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


async def _stored_total(db: asyncpg.Connection) -> Decimal:
    total = await db.fetchval("SELECT sum(amount) FROM node_costs_by_dimension")
    return Decimal(total)


async def test_cur_uploads_legacy_gz_and_cur2_parquet_then_a_restated_month(
    client: httpx.AsyncClient, db: asyncpg.Connection, tmp_path: Path
) -> None:
    rules = await client.put("/rules", content=RULES)
    rules_id = rules.json()["rules_id"]
    september, october = cur_rows(SEPTEMBER), cur_rows(OCTOBER, seed=2)
    first_file = write_legacy_csv(september, tmp_path / "cur-2024-09.csv.gz")
    first = await _upload(client, first_file, rules_id, "auto")
    assert first["format"] == "cur" and first["layout"] == "AWS CUR (legacy)"
    assert first["provider_totals"] == {"AWS": str(_billed_total(september))}
    assert first["rows_read"] == first["rows_accepted"] == len(september)
    second_file = write_cur2_parquet(october, tmp_path / "cur-2024-10.parquet")
    second = await _upload(client, second_file, rules_id, "cur")
    assert second["layout"] == "AWS CUR 2.0"
    assert await _stored_total(db) == _normalized_total(first_file) + _normalized_total(
        second_file
    )

    restated = cur_rows(SEPTEMBER, restated=True)
    restated_file = write_legacy_csv(restated, tmp_path / "cur-2024-09-v2.csv.gz")
    again = await _upload(client, restated_file, rules_id, "cur")
    assert again["billing_periods"] == [SEPTEMBER.isoformat()]
    assert await _stored_total(db) == _normalized_total(
        restated_file
    ) + _normalized_total(second_file)
    sources = await db.fetch(
        "SELECT DISTINCT source FROM node_costs_by_dimension ORDER BY source"
    )
    assert [s["source"] for s in sources] == [
        f"AWS:{PAYER}/2024-09-01",
        f"AWS:{PAYER}/2024-10-01",
    ]
    lines = await db.fetchval("SELECT count(*) FROM cost_lines")
    assert lines == len(restated) + len(october)
    shop = await db.fetchval(
        "SELECT sum(amount) FROM node_costs_by_dimension WHERE node_id = 'team-shop'"
    )
    assert shop > 0


async def test_format_cur_refuses_a_focus_file_with_a_clear_error(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    path = tmp_path / "bill.csv"
    path.write_text("BilledCost,ProviderName\n1,AWS\n")
    response = await client.post(
        "/ingests",
        params={"filename": "bill.csv", "format": "cur"},
        content=path.read_bytes(),
    )
    assert response.status_code == 422
    assert response.json()["error"].startswith(
        "bill.csv: not an AWS Cost and Usage Report"
    )
