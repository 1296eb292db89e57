"""Ingest requires a bearer token with the right scope on every route but /healthz
and /metrics: `ingest` delivers and reads its runs, `admin` changes rules, `read`
traces; no token is a 401, a token without the scope a 403, and nothing is stored."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops.domain.access import Scope
from tests.support.ingest_helpers import ingest_client, ingest_settings
from tests.support.tokens import create_token

pytestmark = pytest.mark.integration
COSTS = "node,date,dimension,amount\ndb,2025-03-01,compute,10.00\n"
RULES = 'rules:\n  - when: {"ServiceName": "*"}\n    node: "{ServiceName}"\n'


async def test_uploads_and_rules_need_a_token_with_the_right_scope(
    kafka_settings: KafkaSettings,
    postgres_settings: PostgresSettings,
    tmp_path: Path,
    db: asyncpg.Connection,
) -> None:
    settings = ingest_settings(
        kafka_settings, postgres_settings, tmp_path, consume_cost_lines=False
    )
    reader = await create_token(postgres_settings, Scope.READ, name="grafana")
    uploader = await create_token(postgres_settings, Scope.INGEST, name="ci")
    upload = {"filename": "costs.csv", "format": "node-costs", "source": "s"}
    async with ingest_client(settings, token=None) as client:
        assert (await client.get("/healthz")).status_code == 200
        anonymous = await client.post("/ingests", params=upload, content=COSTS)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert "missing bearer token" in anonymous.json()["error"]["message"]
        forged = await client.post(
            "/ingests",
            params=upload,
            content=COSTS,
            headers={"Authorization": f"Bearer fin_{'a' * 12}_{'A' * 43}"},
        )
        assert forged.status_code == 401
        as_reader = {"Authorization": f"Bearer {reader}"}
        wrong = await client.post(
            "/ingests", params=upload, content=COSTS, headers=as_reader
        )
        assert wrong.status_code == 403
        assert "this needs ingest" in wrong.json()["error"]["message"]
        assert await db.fetchval("SELECT count(*) FROM ingest_runs") == 0

        as_uploader = {"Authorization": f"Bearer {uploader}"}
        done = await client.post(
            "/ingests", params=upload, content=COSTS, headers=as_uploader
        )
        assert done.status_code == 201, done.text
        run = done.json()["ingest_id"]
        assert (
            await client.get(f"/ingests/{run}", headers=as_uploader)
        ).status_code == 200
        assert (await client.get(f"/ingests/{run}")).status_code == 401
        rules = await client.put("/rules", content=RULES, headers=as_uploader)
        assert rules.status_code == 403  # rules are managed by admin tokens
        trace = {"node": "db", "date": "2025-03-01", "dimension": "compute"}
        assert (await client.get("/trace", params=trace)).status_code == 401
        traced = await client.get("/trace", params=trace, headers=as_reader)
        assert traced.status_code == 200
    async with ingest_client(settings) as admin:  # an admin token
        assert (await admin.put("/rules", content=RULES)).status_code == 200
    assert await db.fetchval("SELECT count(*) FROM ingest_runs") == 1
