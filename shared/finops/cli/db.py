"""`finops db migrate`: apply the versioned SQL migrations."""

from __future__ import annotations

import asyncio

import asyncpg
import typer

from finops.adapters.migrations import apply_migrations
from finops.errors import StackError
from finops.settings import PostgresSettings

__all__ = ["register"]

db_app = typer.Typer(help="Database schema.")


@db_app.command(help="Apply the migrations under deploy/migrations not applied yet.")
def migrate(
    schema: str | None = typer.Option(
        None, help="Target schema (default: DATABASE_SCHEMA)."
    ),
) -> None:
    settings = PostgresSettings()
    applied = asyncio.run(_migrate(settings.database_url, schema or settings.db_schema))
    if applied:
        for name in applied:
            typer.echo(f"applied {name}")
    else:
        typer.echo("database is up to date")


async def _migrate(url: str, schema: str) -> list[str]:
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        raise StackError(
            f"cannot connect to PostgreSQL ({exc}); is `finops dev up` running "
            "or DATABASE_URL set?"
        ) from exc
    try:
        done = await apply_migrations(conn, schema=schema)
    finally:
        await conn.close()
    return [f"{m.version:04d}_{m.name}" for m in done]


def register(app: typer.Typer) -> None:
    """Add the `db` group."""
    app.add_typer(db_app, name="db")
