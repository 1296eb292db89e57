"""Governance configuration and commands in PostgreSQL, shared by the CLI and the
governance service: apply a file (differences only), read it back, approve or reverse an
action run, re-send a delivery.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from finops.domain.actions import ActionEvent, ActionState, next_state
from finops.domain.budgets import Action, Budget, GovernanceFile, Webhook
from finops.errors import InputError

__all__ = [
    "AppliedChanges",
    "Conn",
    "apply_governance",
    "approve_run",
    "audit",
    "executor_delivery",
    "load_governance_items",
    "redeliver",
    "request_reverse",
]

Conn = asyncpg.Connection | PoolConnectionProxy
LineOf = Callable[[Sequence[str | int]], int | None]
_LOCK: Final = 0x46494E4F5047 + 1  # one governance writer at a time
_KINDS: Final = (("budget", "budgets"), ("webhook", "webhooks"), ("action", "actions"))


@dataclass
class AppliedChanges:
    """What an apply changed, per kind: ids added, changed, removed, unchanged."""

    version: int | None = None
    added: dict[str, list[str]] = field(default_factory=dict)
    changed: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    unchanged: dict[str, list[str]] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        buckets = (self.added, self.changed, self.removed)
        return any(ids for bucket in buckets for ids in bucket.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "unchanged": {k: len(v) for k, v in self.unchanged.items()},
        }


def _spec(item: Budget | Webhook | Action) -> str:
    return json.dumps(item.model_dump(mode="json"), sort_keys=True)


async def apply_governance(
    conn: Conn, config: GovernanceFile, line_of: LineOf, *, file_name: str
) -> AppliedChanges:
    """Make the stored configuration equal the file, in one transaction; a budget
    naming a node the graph lacks refuses the whole file (InputError with its line)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK)
        await _check_nodes(conn, config, line_of, file_name)
        stored = {
            (r["kind"], r["item_id"]): r["digest"]
            for r in await conn.fetch(
                "SELECT kind, item_id, digest FROM governance_items"
            )
        }
        version = await conn.fetchval(
            "SELECT coalesce(max(version), 0) + 1 FROM governance_versions"
        )
        changes = AppliedChanges()
        for kind, section in _KINDS:
            await _apply_kind(
                conn, kind, getattr(config, section), stored, version, changes
            )
        if changes.any:
            changes.version = version
            await conn.execute(
                "INSERT INTO governance_versions (version, file_name, summary) "
                "VALUES ($1, $2, $3::jsonb)",
                version,
                file_name,
                json.dumps(changes.as_json()),
            )
            # a re-applied webhook is enabled again
            await conn.execute(
                "DELETE FROM webhook_disabled WHERE webhook_id = ANY($1::text[])",
                [w.id for w in config.webhooks],
            )
        return changes


async def _apply_kind(
    conn: Conn,
    kind: str,
    items: Sequence[Budget | Webhook | Action],
    stored: dict[tuple[str, str], str],
    version: int,
    changes: AppliedChanges,
) -> None:
    wanted = {item.id: _spec(item) for item in items}
    for bucket in (changes.added, changes.changed, changes.removed, changes.unchanged):
        bucket[kind] = []
    for item_id, spec in wanted.items():
        digest = hashlib.sha256(spec.encode()).hexdigest()
        before = stored.get((kind, item_id))
        if before == digest:
            changes.unchanged[kind].append(item_id)
            continue
        (changes.added if before is None else changes.changed)[kind].append(item_id)
        await conn.execute(
            """INSERT INTO governance_items (kind, item_id, spec, digest, version)
            VALUES ($1, $2, $3::jsonb, $4, $5)
            ON CONFLICT (kind, item_id) DO UPDATE SET spec = EXCLUDED.spec,
                digest = EXCLUDED.digest, version = EXCLUDED.version,
                updated_at = now()""",
            kind,
            item_id,
            spec,
            digest,
            version,
        )
    gone = sorted(i for (k, i) in stored if k == kind and i not in wanted)
    if gone:
        changes.removed[kind] = gone
        await conn.execute(
            "DELETE FROM governance_items "
            "WHERE kind = $1 AND item_id = ANY($2::text[])",
            kind,
            gone,
        )


async def _check_nodes(
    conn: Conn, config: GovernanceFile, line_of: LineOf, file_name: str
) -> None:
    wanted = [b.scope.node for b in config.budgets if b.scope.node is not None]
    if not wanted:
        return
    rows = await conn.fetch(
        "SELECT node_id FROM cost_nodes WHERE active AND node_id = ANY($1::text[])",
        wanted,
    )
    known = {r["node_id"] for r in rows}
    for index, budget in enumerate(config.budgets):
        node = budget.scope.node
        if node is not None and node not in known:
            raise InputError(
                f"budgets.{index}.scope.node: unknown node {node!r} "
                "(not in the applied graph; see `finops graph apply`)",
                file=file_name,
                line=line_of(["budgets", index, "scope", "node"]),
            )


async def load_governance_items(conn: Conn) -> GovernanceFile:
    """The stored configuration (as validated when it was applied)."""
    rows = await conn.fetch(
        "SELECT kind, spec FROM governance_items ORDER BY kind, item_id"
    )
    sections: dict[str, list[Any]] = {"budgets": [], "webhooks": [], "actions": []}
    for row in rows:
        sections[f"{row['kind']}s"].append(json.loads(row["spec"]))
    return GovernanceFile.model_validate(sections)


async def audit(
    conn: Conn, run_id: uuid.UUID, actor: str, event: str, details: dict[str, Any]
) -> None:
    await conn.execute(
        "INSERT INTO action_audit (run_id, actor, event, details) "
        "VALUES ($1, $2, $3, $4::jsonb)",
        run_id,
        actor,
        event,
        json.dumps(details, default=str),
    )


async def executor_delivery(
    conn: Conn,
    *,
    run_id: uuid.UUID,
    action: Action,
    operation: str,
    resources: list[dict[str, Any]],
    alert_id: str,
) -> None:
    """Queue the signed call to the action's executor (the outbox row)."""
    body = {
        "type": f"action.{operation}",
        "action_id": action.id,
        "run_id": str(run_id),
        "budget_id": action.budget,
        "alert_id": alert_id,
        "operation": operation,
        "resources": resources,
    }
    await conn.execute(
        """INSERT INTO webhook_deliveries (msg_id, target_kind, target_id, event_type,
            url, payload, action_run_id)
        VALUES ($1, 'executor', $2, $3, $4, $5, $6)
        ON CONFLICT DO NOTHING""",
        f"msg_{run_id.hex}_{operation}",
        action.id,
        f"action.{operation}",
        action.executor.url,
        json.dumps(body, sort_keys=True, separators=(",", ":")),
        run_id,
    )


async def _run_for_update(conn: Conn, run_id: uuid.UUID) -> Any:
    row = await conn.fetchrow(
        "SELECT run_id, action_id, alert_id, state, resources FROM action_runs "
        "WHERE run_id = $1 FOR UPDATE",
        run_id,
    )
    if row is None:
        raise InputError(f"no action run {run_id}")
    return row


async def _action(conn: Conn, action_id: str) -> Action:
    spec = await conn.fetchval(
        "SELECT spec FROM governance_items WHERE kind = 'action' AND item_id = $1",
        action_id,
    )
    if spec is None:
        raise InputError(f"action {action_id!r} is no longer configured")
    return Action.model_validate(json.loads(spec))


async def approve_run(
    conn: Conn, run_id: uuid.UUID, *, actor: str, dry_run: bool
) -> dict[str, Any]:
    """pending_approval -> executing, queueing the executor call (dry run: only say)."""
    return await _move_run(
        conn, run_id, ActionEvent.APPROVED, "execute", "approved", actor, dry_run
    )


async def request_reverse(
    conn: Conn, run_id: uuid.UUID, *, actor: str, dry_run: bool
) -> dict[str, Any]:
    """succeeded | failed -> reversing, queueing the executor's reverse call."""
    return await _move_run(
        conn,
        run_id,
        ActionEvent.REVERSE_REQUESTED,
        "reverse",
        "reverse requested",
        actor,
        dry_run,
    )


async def _move_run(
    conn: Conn,
    run_id: uuid.UUID,
    event: ActionEvent,
    operation: str,
    audited: str,
    actor: str,
    dry_run: bool,
) -> dict[str, Any]:
    """A person's step on a run: the new state, its audit entry and the executor's
    call, in one transaction (a dry run only says what would happen)."""
    async with conn.transaction():
        row = await _run_for_update(conn, run_id)
        state = next_state(ActionState(row["state"]), event)
        resources = json.loads(row["resources"])
        action = await _action(conn, row["action_id"])
        if dry_run:
            return {
                "run_id": str(run_id),
                "would_become": state.value,
                "executor": action.executor.url,
                "resources": resources,
            }
        await _set_state(conn, run_id, state)
        await audit(conn, run_id, actor, audited, {"resources": len(resources)})
        await executor_delivery(
            conn,
            run_id=run_id,
            action=action,
            operation=operation,
            resources=resources,
            alert_id=str(row["alert_id"]),
        )
        return {"run_id": str(run_id), "state": state.value, "resources": resources}


async def _set_state(conn: Conn, run_id: uuid.UUID, state: ActionState) -> None:
    await conn.execute(
        "UPDATE action_runs SET state = $2, updated_at = now() WHERE run_id = $1",
        run_id,
        state.value,
    )


async def redeliver(conn: Conn, delivery_id: int) -> dict[str, Any]:
    """Send a delivery again (same webhook-id, same body) from its first attempt."""
    row = await conn.fetchrow(
        """UPDATE webhook_deliveries SET status = 'pending', attempts = 0,
            next_attempt_at = now(), last_error = NULL
        WHERE delivery_id = $1 RETURNING delivery_id, msg_id, target_id, url""",
        delivery_id,
    )
    if row is None:
        raise InputError(f"no delivery {delivery_id}")
    return dict(row)
