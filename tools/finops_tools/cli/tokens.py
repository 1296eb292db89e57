"""`finops tokens create | list | revoke`: API tokens, stored hashed in PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

import asyncpg
import typer

from finops.adapters.token_store import TokenStore
from finops.domain.access import Scope, TokenRecord
from finops.errors import InputError, StackError
from finops_tools.cli.stack_address import postgres_settings

__all__ = ["register"]

tokens_app = typer.Typer(help="API tokens (bearer tokens with scopes).")
T = TypeVar("T")


@tokens_app.command(help="Create a token; its text is printed once, never stored.")
def create(
    name: Annotated[str, typer.Option(help="Who or what uses it, e.g. grafana.")],
    scope: Annotated[
        list[Scope], typer.Option(help="read, ingest or admin (repeatable).")
    ],
    days: Annotated[
        int | None, typer.Option(min=1, help="Expires after this many days.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    issued, record = _run(lambda s: s.create(name, scope, expires_at=expires))
    if as_json:
        typer.echo(json.dumps({**_row(record), "token": issued.text}))
        return
    typer.echo(issued.text)
    typer.echo(
        f"token {record.token_id} ({', '.join(sorted(record.scopes))}); "
        "keep it now: it is not shown again",
        err=True,
    )


@tokens_app.command("list", help="Every token (never its secret).")
def list_tokens(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    records = _run(lambda s: s.tokens())
    if as_json:
        typer.echo(json.dumps([_row(r) for r in records]))
        return
    for r in records:
        state = "revoked" if r.revoked_at else "active"
        typer.echo(
            f"{r.token_id}  {state:7}  {','.join(sorted(r.scopes)):17}  {r.name}"
        )


@tokens_app.command(help="Revoke a token by id (services notice within seconds).")
def revoke(token_id: Annotated[str, typer.Argument(help="The token's id.")]) -> None:
    if not _run(lambda s: s.revoke(token_id)):
        raise InputError(f"no active token {token_id!r}")
    typer.echo(f"revoked {token_id}")


def _row(record: TokenRecord) -> dict[str, object]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "token_id": record.token_id,
        "name": record.name,
        "scopes": sorted(record.scopes),
        "created_at": iso(record.created_at),
        "expires_at": iso(record.expires_at),
        "revoked_at": iso(record.revoked_at),
        "last_used_at": iso(record.last_used_at),
    }


def _run(step: Callable[[TokenStore], Awaitable[T]]) -> T:
    """One step on the token store of DATABASE_URL's database (else the dev
    stack's, with its password)."""

    async def run() -> T:
        settings = postgres_settings()  # DATABASE_URL, else the dev stack's
        try:
            conn = await asyncpg.connect(
                settings.database_url,
                timeout=10,
                server_settings={"search_path": settings.db_schema},
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise StackError(
                f"cannot connect to PostgreSQL ({exc}); is `finops dev up` running "
                "or DATABASE_URL set?"
            ) from exc
        try:
            return await step(TokenStore(conn))
        finally:
            await conn.close()

    return asyncio.run(run())


def register(app: typer.Typer) -> None:
    """Add the `tokens` group."""
    app.add_typer(tokens_app, name="tokens")
