"""API tokens of a test's schema, for the services that require one."""

from __future__ import annotations

import asyncpg

from finops.adapters.token_store import TokenStore
from finops.contracts.settings import PostgresSettings
from finops.domain.access import Scope

__all__ = ["create_token"]


async def create_token(
    postgres: PostgresSettings, *scopes: Scope, name: str = "test"
) -> str:
    """A new token's text with `scopes` (admin when none), in the test's schema."""
    conn = await asyncpg.connect(
        postgres.database_url, server_settings={"search_path": postgres.db_schema}
    )
    try:
        issued, _ = await TokenStore(conn).create(name, scopes or [Scope.ADMIN])
        return issued.text
    finally:
        await conn.close()
