"""The local stack's admin token: created at `dev up`, kept in the state folder."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg

from finops.adapters.token_store import TokenStore
from finops.domain.access import Scope
from finops.errors import AuthenticationError

__all__ = ["ensure_token"]

TOKEN_NAME = "dev-stack"


def ensure_token(database_url: str, path: Path) -> tuple[str, bool]:
    """The token in `path` if the database still knows it, else a new admin token
    written there (mode 0600); returns (token, created now)."""
    return asyncio.run(_ensure(database_url, path))


async def _ensure(database_url: str, path: Path) -> tuple[str, bool]:
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        store = TokenStore(conn, cache_s=0)
        if path.is_file():
            text = path.read_text().strip()
            try:
                await store.verify(text, Scope.ADMIN)
                return text, False
            except AuthenticationError:
                pass  # the database was reset: a new token
        issued, _ = await store.create(TOKEN_NAME, [Scope.ADMIN])
    finally:
        await conn.close()
    _write_private(path, issued.text)
    return issued.text, True


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
