"""Versioned SQL migrations from a folder (deploy/migrations), each applied once."""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from finops.errors import ConfigError, StackError, StoreConflictError

__all__ = ["Migration", "apply_migrations", "load_migrations", "migrate_database"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x46494E4F5053  # "FINOPS": one migrator at a time per database

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    checksum    TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
)"""
_APPLIED = "SELECT version, checksum FROM schema_migrations"
_RECORD = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"


@dataclass(frozen=True, slots=True)
class Migration:
    """One SQL file: 0001_core.sql is version 1, name core."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(folder: Path) -> list[Migration]:
    """Every migration file in version order; a misnamed file is an error."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no migrations folder (set FINOPS_DEPLOY_DIR)")
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise ConfigError(f"{path}: migration files are named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ConfigError(f"{folder}: two migrations share a version number")
    return found


async def apply_migrations(
    conn: asyncpg.Connection, *, folder: Path, schema: str = "public"
) -> list[Migration]:
    """Apply the migrations not applied yet to `schema`; returns those applied now."""
    _check_identifier(schema)
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    await conn.execute(f'SET search_path TO "{schema}"')
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_CREATE_LEDGER)
        applied = {r["version"]: r["checksum"] for r in await conn.fetch(_APPLIED)}
        pending = [m for m in load_migrations(folder) if _is_pending(m, applied)]
        for migration in pending:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    _RECORD, migration.version, migration.name, migration.checksum
                )
        return pending
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


def _is_pending(migration: Migration, applied: dict[int, str]) -> bool:
    known = applied.get(migration.version)
    if known is None:
        return True
    if known != migration.checksum:
        raise StoreConflictError(
            f"migration {migration.version:04d}_{migration.name} was changed after it "
            "was applied; add a new migration instead"
        )
    return False


def _check_identifier(name: str) -> None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ConfigError(f"invalid schema name {name!r}")


def migrate_database(url: str, *, folder: Path, schema: str = "public") -> list[str]:
    """Connect, apply what is pending, disconnect; returns the names applied now."""
    return asyncio.run(_migrate_url(url, folder, schema))


async def _migrate_url(url: str, folder: Path, schema: str) -> list[str]:
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        raise StackError(
            f"cannot connect to PostgreSQL ({exc}); is `finops dev up` running "
            "or DATABASE_URL set?"
        ) from exc
    try:
        done = await apply_migrations(conn, folder=folder, schema=schema)
    finally:
        await conn.close()
    return [f"{m.version:04d}_{m.name}" for m in done]
