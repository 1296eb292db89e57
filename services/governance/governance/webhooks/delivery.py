"""Durable delivery from the outbox: signed POSTs, retries with back-off and jitter,
`Retry-After`, a timeout per attempt, 410 Gone disables a subscription, every attempt
logged, dead after the last; executor answers move action runs on."""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from finops.domain.actions import (
    ActionEvent,
    ActionState,
    InvalidTransition,
    next_state,
)
from finops.domain.budgets import Action, GovernanceFile
from governance.service import queue_action_webhooks
from governance.store import Claimed, GovernanceStore
from governance.webhooks.schedule import next_wait_s
from governance.webhooks.signing import signed_headers

__all__ = ["AddressPolicy", "Deliverer", "Outcome"]

_log = logging.getLogger(__name__)
_EXCERPT = 500


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which target addresses may be called (private and loopback: only if allowed)."""

    allow_loopback: bool = False
    allow_private: bool = False

    async def refusal(self, url: str) -> str | None:
        """Why the URL's host may not be called, or None."""
        host = urlsplit(url).hostname or ""
        port = urlsplit(url).port or 443
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port)
        except OSError:
            return None  # unresolvable: the attempt fails and is retried
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if address.is_loopback and not self.allow_loopback:
                return (
                    f"target {host} resolves to loopback address {address}; "
                    "set GOVERNANCE_ALLOW_LOOPBACK_TARGETS=true to allow it"
                )
            private = address.is_private or address.is_link_local or address.is_reserved
            if not address.is_loopback and private and not self.allow_private:
                return (
                    f"target {host} resolves to private address {address}; "
                    "set GOVERNANCE_ALLOW_PRIVATE_TARGETS=true to allow it"
                )
        return None


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    latency_ms: float
    error: str | None
    response: str | None
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Deliverer:
    """Takes due deliveries and sends them; the outbox is the only state."""

    def __init__(
        self,
        store: GovernanceStore,
        client: httpx.AsyncClient,
        config: Callable[[], GovernanceFile],
        *,
        policy: AddressPolicy,
        timeout_s: float = 10.0,
        backoff_scale: float = 1.0,
        batch: int = 20,
        observe: Callable[[str, float], None] = lambda _outcome, _s: None,
    ) -> None:
        self._store, self._client, self._config = store, client, config
        self._policy, self._timeout_s = policy, timeout_s
        self._scale, self._batch, self._observe = backoff_scale, batch, observe
        self.wake = asyncio.Event()

    async def run_once(self) -> int:
        """Attempt every due delivery (up to a batch), concurrently; how many."""
        claimed = await self._store.claim_due(
            limit=self._batch, lease_s=self._timeout_s + 5
        )
        await asyncio.gather(*(self._deliver(c) for c in claimed))
        return len(claimed)

    async def _deliver(self, claimed: Claimed) -> None:
        target = self._target(claimed)
        if isinstance(target, str):
            await self._finish(claimed, Outcome(None, 0.0, target, None), final=target)
            return
        url, secret, timeout_s = target
        refusal = await self._policy.refusal(url)
        if refusal is not None:
            await self._finish(
                claimed, Outcome(None, 0.0, refusal, None), final=refusal
            )
            return
        outcome = await self._post(claimed, url, secret, timeout_s)
        await self._finish(claimed, outcome, final=None)

    def _target(self, claimed: Claimed) -> tuple[str, str, float] | str:
        """(url, secret, timeout) of the delivery's target as configured now (a
        subscription's new URL applies to retries too), or why it has none."""
        config = self._config()
        if claimed.target_kind == "webhook":
            hook = next((h for h in config.webhooks if h.id == claimed.target_id), None)
            if hook is None:
                return f"webhook {claimed.target_id!r} is no longer configured"
            return hook.url, hook.secret, self._timeout_s
        action = _action(config, claimed.target_id)
        if action is None:
            return f"action {claimed.target_id!r} is no longer configured"
        executor = action.executor
        return executor.url, executor.secret, min(executor.timeout_s, self._timeout_s)

    async def _post(
        self, claimed: Claimed, url: str, secret: str, timeout_s: float
    ) -> Outcome:
        body = claimed.payload.encode()
        headers = signed_headers(secret, claimed.msg_id, int(time.time()), body)
        started = time.perf_counter()
        try:
            response = await self._client.post(
                url, content=body, headers=headers, timeout=timeout_s
            )
        except httpx.HTTPError as exc:
            latency = (time.perf_counter() - started) * 1000
            return Outcome(
                None, latency, f"{type(exc).__name__}: {exc}"[:_EXCERPT], None
            )
        latency = (time.perf_counter() - started) * 1000
        error = (
            None
            if 200 <= response.status_code < 300
            else f"HTTP {response.status_code}"
        )
        return Outcome(
            response.status_code,
            latency,
            error,
            response.text[:_EXCERPT],
            _retry_after(response.headers.get("retry-after")),
        )

    async def _finish(
        self, claimed: Claimed, outcome: Outcome, *, final: str | None
    ) -> None:
        label = "delivered" if outcome.ok else "failed"
        async with self._store.pool.acquire() as conn, conn.transaction():
            await self._store.log_attempt(
                conn,
                claimed,
                status_code=outcome.status_code,
                latency_ms=outcome.latency_ms,
                error=outcome.error,
                response=outcome.response,
            )
            if outcome.ok:
                await self._store.delivered(conn, claimed.delivery_id)
                await self._executor_answered(conn, claimed, outcome, succeeded=True)
            elif final is not None:
                label = "dead"
                await self._store.dead(conn, claimed.delivery_id, final)
                await self._executor_answered(conn, claimed, outcome, succeeded=False)
            elif outcome.status_code == 410 and claimed.target_kind == "webhook":
                label = "dead"
                reason = "410 Gone: the receiver disabled the subscription"
                await self._store.disable_webhook(conn, claimed.target_id, reason)
                await self._store.dead(conn, claimed.delivery_id, reason)
            else:
                wait = next_wait_s(
                    claimed.attempts,
                    retry_after_s=outcome.retry_after_s,
                    scale=self._scale,
                )
                error = outcome.error or "failed"
                if wait is None:
                    label = "dead"
                    await self._store.dead(
                        conn,
                        claimed.delivery_id,
                        f"{error} (after {claimed.attempts} attempts)",
                    )
                    await self._executor_answered(
                        conn, claimed, outcome, succeeded=False
                    )
                else:
                    await self._store.retry_later(
                        conn, claimed.delivery_id, wait, error
                    )
        self._observe(label, outcome.latency_ms / 1000)

    async def _executor_answered(
        self, conn: Any, claimed: Claimed, outcome: Outcome, *, succeeded: bool
    ) -> None:
        """An executor's final answer moves its action run on, with an audit entry."""
        if claimed.target_kind != "executor" or claimed.action_run_id is None:
            return
        row = await self._store.run_state(conn, claimed.action_run_id)
        if row is None:
            return
        event = (
            ActionEvent.EXECUTOR_SUCCEEDED if succeeded else ActionEvent.EXECUTOR_FAILED
        )
        try:
            state = next_state(ActionState(row["state"]), event)
        except InvalidTransition as exc:
            _log.warning("run %s: %s", claimed.action_run_id, exc)
            return
        await self._store.set_run_state(conn, claimed.action_run_id, state.value)
        await self._store.audit(
            conn,
            claimed.action_run_id,
            f"executor {claimed.url}",
            f"{claimed.event_type}: {state.value}",
            {
                "status_code": outcome.status_code,
                "error": outcome.error,
                "response": outcome.response,
                "attempts": claimed.attempts,
            },
        )
        config = self._config()
        action = _action(config, row["action_id"])
        if action is not None:
            disabled = await self._store.disabled_webhooks(conn)
            resources = json.loads(row["resources"])
            await queue_action_webhooks(
                self._store,
                conn,
                config,
                action,
                claimed.action_run_id,
                state,
                resources,
                disabled,
            )
            self.wake.set()


def _action(config: GovernanceFile, action_id: str) -> Action | None:
    return next((a for a in config.actions if a.id == action_id), None)


def _retry_after(value: str | None) -> float | None:
    """Seconds of a Retry-After header (seconds or an HTTP date), None if absent/bad."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
