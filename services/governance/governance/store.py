"""asyncpg SQL of the governance service: threshold states, alerts, the delivery
outbox and its attempts, action runs. Stores translate; the service decides."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from finops.adapters.governance_store import Conn, audit
from finops.contracts.codec import encode_event
from finops.contracts.events import BudgetAlertChanged
from finops.domain.budgets import Basis
from finops.domain.money import from_micros
from governance.evaluation import Crossing

__all__ = ["Claimed", "GovernanceStore"]

StateKey = tuple[str, date, Decimal, Basis]


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery taken for one attempt."""

    delivery_id: int
    msg_id: str
    target_kind: str
    target_id: str
    event_type: str
    url: str
    payload: str
    attempts: int
    action_run_id: uuid.UUID | None


class GovernanceStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def config_version(self) -> int:
        value = await self.pool.fetchval("SELECT max(version) FROM governance_versions")
        return int(value or 0)

    async def data_clock(self) -> date | None:
        """The latest charge date with stored results or bill lines."""
        return await self.pool.fetchval(  # type: ignore[no-any-return]
            """SELECT greatest(
                (SELECT max(charge_date) FROM allocator_days),
                (SELECT max(charge_date) FROM allocation_results),
                (SELECT (max(charge_period_start) AT TIME ZONE 'UTC')::date
                 FROM cost_lines))"""
        )

    async def threshold_states(self) -> dict[StateKey, Crossing]:
        rows = await self.pool.fetch(
            "SELECT budget_id, period_start, percent, basis, firing, crossings, "
            "alert_id "
            "FROM budget_threshold_state"
        )
        return {
            (
                r["budget_id"],
                r["period_start"],
                r["percent"].normalize(),
                Basis(r["basis"]),
            ): Crossing(r["firing"], r["crossings"], r["alert_id"])
            for r in rows
        }

    async def save_states(
        self, conn: Conn, states: list[tuple[StateKey, Crossing]]
    ) -> None:
        """Many threshold states in one round trip."""
        await conn.executemany(
            """INSERT INTO budget_threshold_state (budget_id, period_start, percent,
                basis, firing, crossings, alert_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (budget_id, period_start, percent, basis) DO UPDATE SET
                firing = EXCLUDED.firing, crossings = EXCLUDED.crossings,
                alert_id = EXCLUDED.alert_id, updated_at = now()""",
            [
                (b, p, percent, basis.value, st.firing, st.crossings, st.alert_id)
                for (b, p, percent, basis), st in states
            ],
        )

    async def record_alerts(
        self, conn: Conn, alerts: list[BudgetAlertChanged]
    ) -> set[tuple[uuid.UUID, str]]:
        """Store alerts (the Kafka outbox rows); the (alert id, status) pairs that
        were new (one stored before is left as it was)."""
        rows = await conn.fetch(
            """INSERT INTO budget_alerts (alert_id, status, budget_id, period_start,
                period_end, percent, basis, spent, forecast, budget_amount, currency,
                cause, event)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::date[],
                $5::date[], $6::numeric[], $7::text[], $8::numeric[], $9::numeric[],
                $10::numeric[], $11::text[], $12::jsonb[], $13::jsonb[])
            ON CONFLICT (alert_id, status) DO NOTHING
            RETURNING alert_id, status""",
            [a.alert_id for a in alerts],
            [a.status for a in alerts],
            [a.budget_id for a in alerts],
            [a.period_start for a in alerts],
            [a.period_end for a in alerts],
            [a.threshold_percent for a in alerts],
            [a.basis for a in alerts],
            [from_micros(a.spent_micros) for a in alerts],
            [from_micros(a.forecast_micros) for a in alerts],
            [from_micros(a.budget_micros) for a in alerts],
            [a.currency for a in alerts],
            [json.dumps({"events": a.causes}) for a in alerts],
            [encode_event(a).decode() for a in alerts],
        )
        return {(r["alert_id"], r["status"]) for r in rows}

    async def queue_delivery(
        self,
        conn: Conn,
        *,
        msg_id: str,
        target_kind: str,
        target_id: str,
        event_type: str,
        url: str,
        payload: bytes,
        action_run_id: uuid.UUID | None = None,
    ) -> None:
        await conn.execute(
            """INSERT INTO webhook_deliveries (msg_id, target_kind, target_id,
                event_type, url, payload, action_run_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING""",
            msg_id,
            target_kind,
            target_id,
            event_type,
            url,
            payload.decode(),
            action_run_id,
        )

    async def disabled_webhooks(self, conn: Conn) -> set[str]:
        rows = await conn.fetch("SELECT webhook_id FROM webhook_disabled")
        return {r["webhook_id"] for r in rows}

    # -- action runs ------------------------------------------------------------

    async def last_run_at(self, conn: Conn, action_id: str) -> Any:
        return await conn.fetchval(
            "SELECT max(created_at) FROM action_runs WHERE action_id = $1 "
            "AND state <> 'reversed'",
            action_id,
        )

    async def create_run(
        self,
        conn: Conn,
        *,
        run_id: uuid.UUID,
        action_id: str,
        alert_id: uuid.UUID,
        state: str,
        resources: list[dict[str, Any]],
    ) -> bool:
        status = await conn.execute(
            """INSERT INTO action_runs (run_id, action_id, alert_id, state, resources)
            VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING""",
            run_id,
            action_id,
            alert_id,
            state,
            json.dumps(resources, default=str),
        )
        return bool(status.endswith(" 1"))

    async def run_state(self, conn: Conn, run_id: uuid.UUID) -> Any:
        return await conn.fetchrow(
            "SELECT run_id, action_id, state, resources FROM action_runs "
            "WHERE run_id = $1 FOR UPDATE",
            run_id,
        )

    async def set_run_state(self, conn: Conn, run_id: uuid.UUID, state: str) -> None:
        await conn.execute(
            "UPDATE action_runs SET state = $2, updated_at = now() WHERE run_id = $1",
            run_id,
            state,
        )

    async def audit(
        self,
        conn: Conn,
        run_id: uuid.UUID,
        actor: str,
        event: str,
        details: dict[str, Any],
    ) -> None:
        await audit(conn, run_id, actor, event, details)

    # -- the Kafka outbox -------------------------------------------------------

    async def unpublished_alerts(self, limit: int = 200) -> list[tuple[int, str, str]]:
        rows = await self.pool.fetch(
            "SELECT seq, budget_id, event::text AS event FROM budget_alerts "
            "WHERE published_at IS NULL ORDER BY seq LIMIT $1",
            limit,
        )
        return [(r["seq"], r["budget_id"], r["event"]) for r in rows]

    async def mark_published(self, seqs: list[int]) -> None:
        await self.pool.execute(
            "UPDATE budget_alerts SET published_at = now() "
            "WHERE seq = ANY($1::bigint[])",
            seqs,
        )

    # -- the delivery outbox ----------------------------------------------------

    async def claim_due(self, *, limit: int, lease_s: float) -> list[Claimed]:
        """Take due deliveries for one attempt each; a crash lets the lease expire and
        the delivery is tried again (same webhook-id)."""
        rows = await self.pool.fetch(
            """UPDATE webhook_deliveries d SET attempts = d.attempts + 1,
                next_attempt_at = now() + make_interval(secs => $2)
            FROM (SELECT delivery_id FROM webhook_deliveries
                  WHERE status = 'pending' AND next_attempt_at <= now()
                  ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due
            WHERE d.delivery_id = due.delivery_id
            RETURNING d.delivery_id, d.msg_id, d.target_kind, d.target_id, d.event_type,
                d.url, d.payload, d.attempts, d.action_run_id""",
            limit,
            lease_s,
        )
        return [Claimed(**dict(r)) for r in rows]

    async def log_attempt(
        self,
        conn: Conn,
        claimed: Claimed,
        *,
        status_code: int | None,
        latency_ms: float,
        error: str | None,
        response: str | None,
    ) -> None:
        await conn.execute(
            """INSERT INTO webhook_attempts (delivery_id, attempt, status_code,
                latency_ms, error, response)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (delivery_id, attempt) DO UPDATE SET status_code =
                EXCLUDED.status_code, latency_ms = EXCLUDED.latency_ms,
                error = EXCLUDED.error, response = EXCLUDED.response,
                attempted_at = now()""",
            claimed.delivery_id,
            claimed.attempts,
            status_code,
            latency_ms,
            error,
            response,
        )

    async def delivered(self, conn: Conn, delivery_id: int) -> None:
        await conn.execute(
            "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now(), "
            "last_error = NULL WHERE delivery_id = $1",
            delivery_id,
        )

    async def retry_later(
        self, conn: Conn, delivery_id: int, wait_s: float, error: str
    ) -> None:
        await conn.execute(
            "UPDATE webhook_deliveries SET next_attempt_at = now() + "
            "make_interval(secs => $2), last_error = $3 WHERE delivery_id = $1",
            delivery_id,
            wait_s,
            error,
        )

    async def dead(self, conn: Conn, delivery_id: int, error: str) -> None:
        await conn.execute(
            "UPDATE webhook_deliveries SET status = 'dead', last_error = $2 "
            "WHERE delivery_id = $1",
            delivery_id,
            error,
        )

    async def disable_webhook(self, conn: Conn, webhook_id: str, reason: str) -> None:
        await conn.execute(
            "INSERT INTO webhook_disabled (webhook_id, reason) VALUES ($1, $2) "
            "ON CONFLICT (webhook_id) DO UPDATE SET reason = EXCLUDED.reason",
            webhook_id,
            reason,
        )

    async def is_disabled(self, conn: Conn, webhook_id: str) -> bool:
        found = await conn.fetchval(
            "SELECT 1 FROM webhook_disabled WHERE webhook_id = $1", webhook_id
        )
        return found is not None
