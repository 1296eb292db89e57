"""`finops budgets | alerts | webhooks | actions`: governance on the running stack.

Every command works on the stack's PostgreSQL (found as `finops dev status` finds it,
or DATABASE_URL); the governance service notices changes within a second.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import asyncpg
import typer

from finops.adapters.governance_store import (
    apply_governance,
    approve_run,
    redeliver,
    request_reverse,
)
from finops.errors import InputError
from finops.formats.governancefile import load_governance
from finops_tools.cli.stack_address import postgres_settings, reach

__all__ = ["register"]

T = TypeVar("T")
budgets_app = typer.Typer(help="Budgets, webhooks and actions from a YAML file.")
alerts_app = typer.Typer(help="Budget alerts fired and resolved.")
webhooks_app = typer.Typer(help="Webhook and executor deliveries.")
actions_app = typer.Typer(help="Shutdown action runs: approve, reverse, audit.")
_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _db(step: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """One step on the stack's database."""
    settings = postgres_settings()

    async def run() -> T:
        conn = await asyncpg.connect(
            settings.database_url,
            timeout=10,
            server_settings={"search_path": settings.db_schema},
        )
        try:
            return await step(conn)
        finally:
            await conn.close()

    return reach("PostgreSQL", settings.database_url, run())


def _print(rows: list[dict[str, Any]], as_json: bool, columns: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    for row in rows:
        typer.echo("  ".join(str(row.get(c, "")) for c in columns))


@budgets_app.command(help="Apply a governance file: only the differences are written.")
def apply(
    file: Annotated[Path, typer.Argument(help="budgets YAML (or JSON)")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate only; write nothing.")
    ] = False,
    as_json: _JSON = False,
) -> None:
    config, line_of = load_governance(file)
    if dry_run:
        counts = {
            "budgets": len(config.budgets),
            "webhooks": len(config.webhooks),
            "actions": len(config.actions),
        }
        typer.echo(
            json.dumps({"valid": True, **counts}) if as_json else f"valid: {counts}"
        )
        return
    changes = _db(lambda c: apply_governance(c, config, line_of, file_name=str(file)))
    if as_json:
        typer.echo(json.dumps(changes.as_json()))
        return
    if not changes.any:
        typer.echo("no changes")
        return
    for kind in ("budget", "webhook", "action"):
        for verb, bucket in (
            ("added", changes.added),
            ("changed", changes.changed),
            ("removed", changes.removed),
        ):
            for item in bucket.get(kind, []):
                typer.echo(f"{verb} {kind} {item}")
    typer.echo(f"governance version {changes.version}")


@budgets_app.command(
    "list", help="The applied budgets and their thresholds firing now."
)
def list_budgets(as_json: _JSON = False) -> None:
    async def step(conn: asyncpg.Connection) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            """SELECT i.item_id AS id, i.spec->>'name' AS name,
                i.spec->>'amount' AS amount, i.spec->>'currency' AS currency,
                i.spec->>'period' AS period, i.spec->'scope' AS scope,
                (SELECT count(*) FROM budget_threshold_state s
                 WHERE s.budget_id = i.item_id AND s.firing) AS firing
            FROM governance_items i WHERE kind = 'budget' ORDER BY item_id"""
        )
        return [dict(r) for r in rows]

    _print(_db(step), as_json, ["id", "amount", "currency", "period", "firing", "name"])


@alerts_app.command("list", help="Alerts and resolutions, newest first.")
def list_alerts(
    budget: Annotated[str | None, typer.Option(help="Only this budget.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: _JSON = False,
) -> None:
    async def step(conn: asyncpg.Connection) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            """SELECT seq, alert_id, status, budget_id, period_start, percent, basis,
                spent, forecast, budget_amount, currency, created_at
            FROM budget_alerts WHERE $1::text IS NULL OR budget_id = $1
            ORDER BY seq DESC LIMIT $2""",
            budget,
            limit,
        )
        return [dict(r) for r in rows]

    _print(
        _db(step),
        as_json,
        ["created_at", "status", "budget_id", "percent", "basis", "spent", "alert_id"],
    )


@webhooks_app.command("list", help="Deliveries, newest first, with their state.")
def list_deliveries(
    status: Annotated[
        str | None, typer.Option(help="pending, delivered or dead.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: _JSON = False,
) -> None:
    async def step(conn: asyncpg.Connection) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            """SELECT delivery_id, msg_id, target_kind, target_id, event_type, status,
                attempts, last_error, created_at, delivered_at
            FROM webhook_deliveries WHERE $1::text IS NULL OR status = $1
            ORDER BY delivery_id DESC LIMIT $2""",
            status,
            limit,
        )
        return [dict(r) for r in rows]

    _print(
        _db(step),
        as_json,
        ["delivery_id", "status", "attempts", "target_id", "event_type", "msg_id"],
    )


@webhooks_app.command("attempts", help="Every attempt of one delivery.")
def attempts(
    delivery_id: Annotated[int, typer.Argument(help="From `finops webhooks list`.")],
    as_json: _JSON = False,
) -> None:
    async def step(conn: asyncpg.Connection) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            """SELECT attempt, attempted_at, status_code, latency_ms, error, response
            FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt""",
            delivery_id,
        )
        return [dict(r) for r in rows]

    _print(
        _db(step),
        as_json,
        ["attempt", "attempted_at", "status_code", "latency_ms", "error"],
    )


def redeliver_cmd(
    delivery_id: Annotated[int, typer.Argument(help="From `finops webhooks list`.")],
) -> None:
    row = _db(lambda c: redeliver(c, delivery_id))
    typer.echo(f"delivery {row['delivery_id']} ({row['msg_id']}) queued again")


webhooks_app.command("redeliver", help="Send a delivery again (same webhook-id).")(
    redeliver_cmd
)


@actions_app.command("list", help="Action runs, newest first.")
def list_runs(as_json: _JSON = False) -> None:
    async def step(conn: asyncpg.Connection) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            """SELECT run_id, action_id, state,
                jsonb_array_length(resources) AS resources, created_at,
                updated_at FROM action_runs ORDER BY created_at DESC"""
        )
        return [dict(r) for r in rows]

    _print(
        _db(step), as_json, ["run_id", "action_id", "state", "resources", "updated_at"]
    )


@actions_app.command(help="The audit trail of a run: who or what, when, what.")
def audit(run_id: Annotated[str, typer.Argument()], as_json: _JSON = False) -> None:
    ident = _run_id(run_id)

    async def step(conn: asyncpg.Connection) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            "SELECT at, actor, event, details FROM action_audit WHERE run_id = $1 "
            "ORDER BY seq",
            ident,
        )
        return [dict(r) for r in rows]

    _print(_db(step), as_json, ["at", "actor", "event", "details"])


@actions_app.command(help="Approve a run waiting for approval (it executes).")
def approve(
    run_id: Annotated[str, typer.Argument()],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the targets; call nothing.")
    ] = False,
    by: Annotated[str, typer.Option(help="Who approves (the audit trail).")] = "cli",
) -> None:
    ident = _run_id(run_id)
    result = _db(lambda c: approve_run(c, ident, actor=by, dry_run=dry_run))
    typer.echo(json.dumps(result, default=str, indent=2))


@actions_app.command(help="Reverse a run: the executor restarts its resources.")
def reverse(
    run_id: Annotated[str, typer.Argument()],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the targets; call nothing.")
    ] = False,
    by: Annotated[str, typer.Option(help="Who reverses (the audit trail).")] = "cli",
) -> None:
    ident = _run_id(run_id)
    result = _db(lambda c: request_reverse(c, ident, actor=by, dry_run=dry_run))
    typer.echo(json.dumps(result, default=str, indent=2))


def _run_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InputError(f"not a run id (a UUID): {text!r}") from None


def register(app: typer.Typer) -> None:
    """Add the `budgets`, `alerts`, `webhooks` and `actions` groups."""
    app.add_typer(budgets_app, name="budgets")
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(webhooks_app, name="webhooks")
    app.add_typer(actions_app, name="actions")
