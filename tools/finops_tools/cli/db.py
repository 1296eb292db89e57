"""`finops db migrate`: apply the versioned SQL migrations."""

from __future__ import annotations

import typer

from finops.adapters.migrations import migrate_database
from finops_tools.cli.stack_address import postgres_settings

__all__ = ["register"]

db_app = typer.Typer(help="Database schema.")


@db_app.command(help="Apply the migrations under deploy/migrations not applied yet.")
def migrate(
    schema: str | None = typer.Option(
        None, help="Target schema (default: DATABASE_SCHEMA)."
    ),
) -> None:
    settings = postgres_settings()  # DATABASE_URL, else the dev stack's
    applied = migrate_database(
        settings.database_url,
        folder=settings.migrations_dir,
        schema=schema or settings.db_schema,
    )
    if applied:
        for name in applied:
            typer.echo(f"applied {name}")
    else:
        typer.echo("database is up to date")


def register(app: typer.Typer) -> None:
    """Add the `db` group."""
    app.add_typer(db_app, name="db")
