"""API tokens on the real PostgreSQL: created hashed, verified, refused, revoked; and
the HTTP guard's answers (401/403 with the API's error body)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Annotated

import asyncpg
import httpx
import pytest
from fastapi import Depends, FastAPI

from finops.adapters.http_auth import TokenGuard, add_auth, require
from finops.adapters.token_store import TokenStore
from finops.contracts.settings import AuthSettings, PostgresSettings
from finops.domain.access import Scope, TokenRecord
from finops.errors import AuthenticationError, InputError, PermissionDeniedError
from tests.support.cli import run_finops

pytestmark = pytest.mark.integration


async def test_a_token_is_stored_hashed_and_verified_with_its_scopes(
    db: asyncpg.Connection,
) -> None:
    store = TokenStore(db, cache_s=0)
    issued, record = await store.create("grafana", [Scope.READ])
    stored = await db.fetchrow("SELECT * FROM api_tokens")
    assert stored is not None
    assert stored["token_id"] == record.token_id == issued.token_id
    secret = issued.text.split("_", 2)[2]  # the secret itself may hold "_"
    assert len(secret) == 43
    assert secret not in json.dumps(dict(stored), default=str)
    verified = await store.verify(issued.text, Scope.READ)
    assert verified.name == "grafana" and verified.scopes == {Scope.READ}
    with pytest.raises(PermissionDeniedError, match=r"has scopes \[read\]; this needs"):
        await store.verify(issued.text, Scope.ADMIN)
    assert await db.fetchval("SELECT last_used_at FROM api_tokens") is not None


async def test_unknown_wrong_revoked_and_expired_tokens_are_refused(
    db: asyncpg.Connection,
) -> None:
    store = TokenStore(db, cache_s=0)
    issued, _ = await store.create("ci", [Scope.ADMIN])
    token_id = issued.token_id
    forged = f"fin_{token_id}_{'A' * 43}"
    with pytest.raises(AuthenticationError, match="unknown token"):
        await store.verify(forged, Scope.READ)
    with pytest.raises(AuthenticationError, match="unknown token"):
        await store.verify(f"fin_{'a' * 12}_{'A' * 43}", Scope.READ)
    assert await store.revoke(token_id)
    assert not await store.revoke(token_id)
    with pytest.raises(AuthenticationError, match="revoked or expired"):
        await store.verify(issued.text, Scope.READ)
    past = datetime.now(UTC) - timedelta(seconds=1)
    old, _ = await store.create("old", [Scope.READ], expires_at=past)
    with pytest.raises(AuthenticationError, match="revoked or expired"):
        await store.verify(old.text, Scope.READ)


async def test_a_token_needs_a_name_and_a_scope(db: asyncpg.Connection) -> None:
    store = TokenStore(db)
    with pytest.raises(InputError, match="scope"):
        await store.create("x", [])
    with pytest.raises(InputError, match="name"):
        await store.create(" ", [Scope.READ])
    assert await store.tokens() == []


async def test_a_revoked_token_stops_working_once_its_cache_time_passed(
    db: asyncpg.Connection,
) -> None:
    store = TokenStore(db, cache_s=3600)
    issued, _ = await store.create("svc", [Scope.READ])
    await store.verify(issued.text, Scope.READ)
    await TokenStore(db).revoke(issued.token_id)  # another process revokes it
    assert (await store.verify(issued.text, Scope.READ)).token_id == issued.token_id
    assert await store.revoke(issued.token_id) is False  # already; cache dropped too
    with pytest.raises(AuthenticationError):
        await store.verify(issued.text, Scope.READ)


def _app(guard: TokenGuard) -> FastAPI:
    app = FastAPI()
    add_auth(app, guard)

    @app.get("/costs")
    async def costs(
        token: Annotated[TokenRecord | None, Depends(require(Scope.READ))],
    ) -> dict[str, str | None]:
        return {"token": token.token_id if token else None}

    @app.post("/graph")
    async def graph(
        token: Annotated[TokenRecord | None, Depends(require(Scope.ADMIN))],
    ) -> dict[str, str]:
        return {"applied": "yes"}

    return app


async def test_routes_answer_401_403_or_200_by_token_and_scope(
    db: asyncpg.Connection,
) -> None:
    store = TokenStore(db, cache_s=0)
    reader, _ = await store.create("reader", [Scope.READ])
    app = _app(TokenGuard(store, AuthSettings(mode="required")))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        missing = await client.get("/costs")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        assert missing.json()["error"]["code"] == "unauthorized"
        bad = await client.get("/costs", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        assert "malformed token" in bad.json()["error"]["message"]
        auth = {"Authorization": f"Bearer {reader.text}"}
        ok = await client.get("/costs", headers=auth)
        assert ok.status_code == 200 and ok.json() == {"token": reader.token_id}
        denied = await client.post("/graph", headers=auth)
        assert denied.status_code == 403
        assert denied.json()["error"] == {
            "code": "forbidden",
            "message": f"token {reader.token_id} has scopes [read]; this needs admin",
            "details": {},
        }


async def test_open_mode_checks_no_token() -> None:
    app = _app(TokenGuard(None, AuthSettings(mode="open")))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.post("/graph")
    assert answer.status_code == 200


def test_finops_tokens_create_list_and_revoke(
    postgres_settings: PostgresSettings,
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": postgres_settings.database_url,
        "DATABASE_SCHEMA": postgres_settings.db_schema,
    }
    made = run_finops(
        "tokens",
        "create",
        "--name",
        "ci",
        "--scope",
        "read",
        "--scope",
        "ingest",
        "--json",
        env=env,
    )
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["scopes"] == ["ingest", "read"]
    assert created["token"].startswith(f"fin_{created['token_id']}_")
    listed = json.loads(run_finops("tokens", "list", "--json", env=env).stdout)
    assert [t["token_id"] for t in listed] == [created["token_id"]]
    assert "token" not in listed[0]
    gone = run_finops("tokens", "revoke", created["token_id"], env=env)
    assert gone.returncode == 0 and "revoked" in gone.stdout
    again = run_finops("tokens", "revoke", created["token_id"], env=env)
    assert again.returncode == 2
    assert again.stderr.strip() == f"error: no active token {created['token_id']!r}"
    wrong = run_finops("tokens", "create", "--name", "x", "--scope", "root", env=env)
    assert wrong.returncode == 2 and "root" in wrong.stderr
