"""Webhook delivery from the outbox on the real PostgreSQL to a real local HTTP server:
410 Gone disables the subscription, Retry-After is honoured, a timeout is a failed
attempt retried later, loopback targets are refused unless allowed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from finops.adapters.governance_store import apply_governance
from finops.contracts.settings import PostgresSettings
from finops.formats.governancefile import parse_governance
from governance.store import GovernanceStore
from governance.webhooks.delivery import AddressPolicy, Deliverer

pytestmark = pytest.mark.integration

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class _Server:
    """Answers each POST with the next (status, headers, delay) of a script."""

    def __init__(self, script: list[tuple[int, dict[str, str], float]]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.requests.append({"body": body, "headers": headers})
                status, extra, delay = (
                    outer.script.pop(0) if outer.script else (200, {}, 0)
                )
                time.sleep(delay)
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(b"answer body")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[_Server]:
    made: list[_Server] = []

    def make(script: list[tuple[int, dict[str, str], float]]) -> _Server:
        made.append(_Server(script))
        return made[-1]

    yield make  # type: ignore[misc]
    for s in made:
        s.http.shutdown()
        s.http.server_close()


async def _setup(
    postgres: PostgresSettings, db: asyncpg.Connection, url: str
) -> tuple[asyncpg.Pool, GovernanceStore, Any]:
    text = f"""webhooks:
  - id: ops
    url: {url}
    secret: {SECRET}
"""
    config, line_of = parse_governance(text, name="hooks.yaml")
    await apply_governance(db, config, line_of, file_name="hooks.yaml")
    pool = await asyncpg.create_pool(
        postgres.database_url,
        server_settings={"search_path": postgres.db_schema},
        min_size=1,
        max_size=2,
    )
    store = GovernanceStore(pool)
    async with pool.acquire() as conn:
        await store.queue_delivery(
            conn,
            msg_id="msg_test_alert",
            target_kind="webhook",
            target_id="ops",
            event_type="budget.alert",
            url=url,
            payload=b'{"type":"budget.alert"}',
        )
    return pool, store, config


async def _delivery(db: asyncpg.Connection) -> Any:
    return await db.fetchrow(
        "SELECT status, attempts, last_error, next_attempt_at - now() AS wait "
        "FROM webhook_deliveries"
    )


async def test_gone_disables_the_subscription(
    postgres_settings: PostgresSettings, db: asyncpg.Connection, server: Any
) -> None:
    receiver = server([(410, {}, 0)])
    pool, store, config = await _setup(postgres_settings, db, receiver.url)
    async with httpx.AsyncClient() as client:
        deliverer = Deliverer(
            store, client, lambda: config, policy=AddressPolicy(allow_loopback=True)
        )
        assert await deliverer.run_once() == 1
    await pool.close()
    row = await _delivery(db)
    assert row["status"] == "dead" and "410 Gone" in row["last_error"]
    assert await db.fetchval("SELECT webhook_id FROM webhook_disabled") == "ops"
    attempt = await db.fetchrow("SELECT status_code, response FROM webhook_attempts")
    assert attempt is not None and attempt["status_code"] == 410
    assert attempt["response"] == "answer body"
    # what arrived was signed as Standard Webhooks say
    Webhook(SECRET).verify(
        receiver.requests[0]["body"], receiver.requests[0]["headers"]
    )


async def test_retry_after_and_timeouts_are_retried_later(
    postgres_settings: PostgresSettings, db: asyncpg.Connection, server: Any
) -> None:
    receiver = server([(503, {"Retry-After": "120"}, 0), (200, {}, 2.0)])
    pool, store, config = await _setup(postgres_settings, db, receiver.url)
    async with httpx.AsyncClient() as client:
        deliverer = Deliverer(
            store,
            client,
            lambda: config,
            policy=AddressPolicy(allow_loopback=True),
            timeout_s=0.5,
        )
        await deliverer.run_once()
        row = await _delivery(db)
        assert row["status"] == "pending" and row["last_error"] == "HTTP 503"
        assert 110 < row["wait"].total_seconds() <= 120  # Retry-After beat the 5 s
        await db.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")
        await deliverer.run_once()  # the receiver answers after 2 s: a timeout
        row = await _delivery(db)
        assert row["status"] == "pending" and "Timeout" in row["last_error"]
        assert row["attempts"] == 2
        await db.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")
        await deliverer.run_once()
    await pool.close()
    row = await _delivery(db)
    assert row is not None and row["status"] == "delivered"
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert ids == {"msg_test_alert"} and len(receiver.requests) == 3


async def test_loopback_targets_are_refused_unless_allowed(
    postgres_settings: PostgresSettings, db: asyncpg.Connection, server: Any
) -> None:
    receiver = server([])
    pool, store, config = await _setup(postgres_settings, db, receiver.url)
    async with httpx.AsyncClient() as client:
        deliverer = Deliverer(store, client, lambda: config, policy=AddressPolicy())
        await deliverer.run_once()
    await pool.close()
    row = await _delivery(db)
    assert row["status"] == "dead" and "loopback address 127.0.0.1" in row["last_error"]
    assert "GOVERNANCE_ALLOW_LOOPBACK_TARGETS" in row["last_error"]
    assert receiver.requests == []


async def test_private_addresses_are_refused_unless_allowed() -> None:
    refused = await AddressPolicy(allow_loopback=True).refusal("http://10.1.2.3/x")
    assert refused is not None and "private address 10.1.2.3" in refused
    assert await AddressPolicy(allow_private=True).refusal("http://10.1.2.3/x") is None
    assert await AddressPolicy().refusal("http://192.0.2.1:8443/x") is not None
