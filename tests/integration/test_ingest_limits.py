"""What one delivery may cost: a body past INGEST_MAX_BODY_BYTES is a 413 and leaves
nothing behind; a gzip expanding past INGEST_MAX_EXPANDED_BYTES or
INGEST_MAX_GZIP_RATIO is refused (422) naming the limit, before it is read."""

from __future__ import annotations

import gzip
from pathlib import Path

import asyncpg
import pytest

from finops.contracts.settings import KafkaSettings, PostgresSettings
from tests.support.ingest_helpers import ingest_client, ingest_settings

pytestmark = pytest.mark.integration
HEADER = "node,date,dimension,amount\n"


async def test_a_body_too_large_and_a_gzip_bomb_are_refused_with_a_clear_message(
    kafka_settings: KafkaSettings,
    postgres_settings: PostgresSettings,
    tmp_path: Path,
    db: asyncpg.Connection,
) -> None:
    settings = ingest_settings(
        kafka_settings,
        postgres_settings,
        tmp_path,
        consume_cost_lines=False,
        max_body_bytes=64 * 1024,
        max_expanded_bytes=10 * 1024 * 1024,
        max_gzip_ratio=50,
    )
    rows = "".join(f"n{i},2024-12-01,compute,1.5\n" for i in range(100))
    good = gzip.compress((HEADER + rows).encode())
    bomb = gzip.compress((HEADER + "x" * (8 * 1024 * 1024)).encode())  # ratio ~1000
    upload = {"format": "node-costs", "source": "s"}
    async with ingest_client(settings) as client:
        big = await client.post(
            "/ingests",
            params={"filename": "big.csv", **upload},
            content=HEADER + "n,2024-12-01,compute,1\n" * 4000,
        )
        assert big.status_code == 413
        assert "passes the configured size of 65,536 bytes" in big.text
        assert "INGEST_MAX_BODY_BYTES" in big.text
        exploded = await client.post(
            "/ingests", params={"filename": "bomb.csv.gz", **upload}, content=bomb
        )
        assert exploded.status_code == 422
        error = exploded.json()["error"]
        assert error.startswith("bomb.csv.gz: gzip expands past the configured limit")
        assert "INGEST_MAX_GZIP_RATIO=50" in error
        fine = await client.post(
            "/ingests", params={"filename": "costs.csv.gz", **upload}, content=good
        )
        assert fine.status_code == 201, fine.text
        assert fine.json()["rows_accepted"] == 100
    assert not list((tmp_path / "spool").iterdir())  # nothing left behind
    assert await db.fetchval("SELECT count(*) FROM node_costs_by_dimension") == 100
