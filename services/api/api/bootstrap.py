"""Builds the api service's app and its collaborators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware

from api.answers import AnswerCache
from api.errors import add_error_handlers
from api.metrics import REGISTRY, REQUEST_SECONDS
from api.params import refuse_control_characters
from api.queries.base import Reader
from api.routes import (
    audit,
    costs,
    exports,
    governance,
    graph,
    ingest,
    insights,
    nodes,
    products,
)
from api.settings import ApiSettings
from finops.adapters.connections import Connections, OpenedPool
from finops.adapters.http_auth import TokenGuard, add_auth
from finops.adapters.http_runtime import add_health_routes, add_request_timing
from finops.adapters.token_store import TokenStore

__all__ = ["create_app"]

_DESCRIPTION = """Every number the platform knows: costs, allocations, flows and the
bill lines behind them. Money is a decimal string with six decimals plus an ISO
currency; dates are ISO and windows inclusive; errors are
`{"error": {"code", "message", "details"}}`. Every route but /healthz and /metrics
needs a bearer token (`finops tokens create`)."""


async def _read_only_pool(settings: ApiSettings) -> asyncpg.Pool:
    """Sessions that cannot write, with a bound on any one statement."""
    postgres = settings.postgres
    return await asyncpg.create_pool(
        settings.read_database_url or postgres.database_url,
        min_size=1,
        max_size=settings.query_pool_size,
        server_settings={
            "search_path": postgres.db_schema,
            "default_transaction_read_only": "on",
            "statement_timeout": "30000",
        },
    )


def create_app(settings: ApiSettings) -> FastAPI:
    """The service's HTTP app; connections open in its lifespan."""
    connections = Connections(settings.kafka, settings.postgres, client_id="api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await connections.open()
        pool = await _read_only_pool(settings)
        app.state.connections = connections
        app.state.reader = Reader(pool)
        try:
            yield
        finally:
            await pool.close()
            await connections.close()

    app = FastAPI(
        title="finops api",
        version="1",
        description=_DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(refuse_control_characters)],
    )
    app.state.settings = settings
    app.state.answers = AnswerCache(settings.cache_entries)
    store = TokenStore(OpenedPool(connections), cache_s=settings.auth.cache_s)
    add_auth(app, TokenGuard(store, settings.auth))
    add_error_handlers(app)
    add_health_routes(
        app,
        service="api",
        registry=REGISTRY,
        checks={"kafka": connections.kafka_ok, "database": connections.database_ok},
    )
    for module in (
        products,
        nodes,
        costs,
        audit,
        insights,
        exports,
        graph,
        governance,
        ingest,
    ):
        app.include_router(module.router)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    add_request_timing(app, REQUEST_SECONDS)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match"],
            expose_headers=["ETag"],
        )
    return app
