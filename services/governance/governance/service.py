"""Budgets evaluated from the events the platform produces: which periods an event
touched, the spend and forecast of each budget there, and, in one transaction, the
alerts, their deliveries (outbox) and the action runs they start."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from finops.adapters.governance_store import (
    executor_delivery,
    load_governance_items,
)
from finops.contracts.events import BudgetAlertChanged
from finops.domain.actions import ActionEvent, ActionState, next_state
from finops.domain.budgets import (
    Action,
    Approval,
    Budget,
    GovernanceFile,
    PayloadFormat,
    Period,
    period_bounds,
)
from finops.domain.money import to_micros
from governance.evaluation import Crossing, Reading, Transition, transitions
from governance.forecast import forecast_micros
from governance.nodebudgets import NodeGroup, group_node_budgets
from governance.spend import DaySpend, filter_daily, filter_resources
from governance.store import GovernanceStore, StateKey
from governance.webhooks.payloads import alert_body, event_type

__all__ = ["BudgetEvaluator", "PassReport", "action_message"]

_log = logging.getLogger(__name__)
_MAX_CAUSES = 20


@dataclass(frozen=True, slots=True)
class PassReport:
    budgets: int
    readings: int
    alerts: int
    seconds: float
    record_seconds: float = 0.0  # of `seconds`: writing states, alerts, deliveries


class BudgetEvaluator:
    """Evaluates every budget whose period holds a touched day; single writer."""

    def __init__(
        self,
        store: GovernanceStore,
        *,
        window_days: int = 7,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._store, self._window, self._now = store, window_days, now
        self._spend = DaySpend(store.pool)
        self._on_change = on_change
        self.config = GovernanceFile()
        self._groups: list[NodeGroup] = []
        self._grouped: set[str] = set()
        self._group_of: dict[str, int] = {}
        # Per (group, period start): each threshold pair's stored crossed-or-not,
        # kept in step with the states (built once, then updated by each record).
        self._firing: dict[tuple[int, date], Any] = {}
        self._acted: set[str] = set()
        self._version = -1
        self._states: dict[StateKey, Crossing] | None = None
        self._clock: date | None = None
        self._dirty: set[date] = set()
        self._causes: list[str] = []
        self._everything = True
        self.wake = asyncio.Event()

    def touch(self, days: Iterable[date], cause: str) -> None:
        """Days whose costs or results changed (an event said so)."""
        days = set(days)
        if not days:
            return
        self._dirty |= days
        if len(self._causes) < _MAX_CAUSES:
            self._causes.append(cause)
        latest = max(days)
        if self._clock is None or latest > self._clock:
            self._clock = latest
        self.wake.set()

    async def refresh_config(self) -> bool:
        """Reload the configuration when `finops budgets apply` changed it."""
        version = await self._store.config_version()
        if version == self._version:
            return False
        async with self._store.pool.acquire() as conn:
            self.config = await load_governance_items(conn)
        self._groups = group_node_budgets(self.config.budgets)
        self._grouped = {b.id for g in self._groups for b in g.budgets}
        self._group_of = {
            b.id: i for i, g in enumerate(self._groups) for b in g.budgets
        }
        self._firing = {}
        self._acted = {a.budget for a in self.config.actions}
        self._version, self._everything = version, True
        self.wake.set()
        return True

    async def run_pass(self) -> PassReport:
        """One evaluation of what was touched since the last pass."""
        started = time.perf_counter()
        dirty, causes = self._dirty, self._causes
        self._dirty, self._causes = set(), []
        self.wake.clear()
        if self._states is None:
            self._states = await self._store.threshold_states()
            self._clock = max(
                filter(None, [self._clock, await self._store.data_clock()]),
                default=None,
            )
        if self._clock is None:
            return PassReport(0, 0, 0, time.perf_counter() - started)
        days = set(dirty)
        if self._everything:
            days.add(self._clock)
            self._everything = False
        readings = await self._readings(days, dirty)
        found = [(r, t) for r in readings for t in transitions(r, self._states_of(r))]
        recording = time.perf_counter()
        if found:
            await self._record(found, causes)
        done = time.perf_counter()
        return PassReport(
            len(self.config.budgets),
            len(readings),
            len(found),
            done - started,
            done - recording,
        )

    def _states_of(self, reading: Reading) -> dict[Any, Crossing]:
        assert self._states is not None
        b, p = reading.budget.id, reading.period_start
        return {
            t.key(): self._states[(b, p, *t.key())]
            for t in reading.budget.thresholds
            if (b, p, *t.key()) in self._states
        }

    # -- spend ----------------------------------------------------------------

    async def _readings(self, days: set[date], dirty: set[date]) -> list[Reading]:
        """The readings to compare with the stored states: every budget of the
        scalar path, and the node budgets whose thresholds changed side."""
        bounds: dict[tuple[Period, date | None, date], tuple[date, date]] = {}

        def periods(period: Period, start: date | None) -> set[tuple[date, date]]:
            out = set()
            for day in days:
                key = (period, start, day)
                if key not in bounds:
                    bounds[key] = period_bounds(period, day, start)
                out.add(bounds[key])
            return out

        work: list[tuple[Budget, date, date]] = []
        held: set[tuple[date, date]] = set()
        for budget in self.config.budgets:
            if budget.id in self._grouped:
                continue
            for first, end in sorted(periods(budget.period, budget.start)):
                work.append((budget, first, end))
                if budget.scope.filter is None and budget.scope.dimension is None:
                    held.add((first, end))
        group_periods = [(g, periods(g.period, g.start)) for g in self._groups]
        for _group, spans in group_periods:
            held |= spans
        await self._spend.ensure(
            {d for first, end in held for d in _days(first, end)}, refresh=dirty
        )
        readings = [await self._reading(b, first, end) for b, first, end in work]
        sums: dict[tuple[date, date], Any] = {}
        for group, spans in group_periods:
            for first, end in sorted(spans):
                if (first, end) not in sums:
                    sums[(first, end)] = self._spend.cumulative(first, end)
                readings.extend(
                    self._group_readings(group, first, end, sums[(first, end)])
                )
        return readings

    def _group_readings(
        self, group: NodeGroup, first: date, end: date, cumulative: Any
    ) -> list[Reading]:
        assert self._states is not None
        as_of = self._as_of(end)
        spent, forecast = group.spend(
            cumulative,
            self._spend.index,
            first=first,
            end=end,
            as_of=as_of,
            window=self._window,
        )
        key = (self._groups.index(group), first)
        if key not in self._firing:
            self._firing[key] = group.firing(self._states, first)
        changed = group.crossed(spent, forecast) != self._firing[key]
        positions = sorted(set(group.pair_budget[changed].tolist()))
        return [
            Reading(
                group.budgets[p], first, end, as_of, int(spent[p]), int(forecast[p])
            )
            for p in positions
        ]

    def _as_of(self, end: date) -> date:
        assert self._clock is not None
        return min(self._clock, end - timedelta(days=1))

    async def _reading(self, budget: Budget, first: date, end: date) -> Reading:
        scope = budget.scope
        if scope.filter is not None:
            daily = await filter_daily(self._store.pool, scope.filter, first, end)
        elif scope.node is not None and scope.dimension is not None:
            daily = await self._spend.node_dimension_daily(
                scope.node, scope.dimension, first, end
            )
        elif scope.node is not None:
            daily = self._spend.node_daily(scope.node, first, end)
        else:
            daily = self._spend.organisation_daily(first, end)
        as_of = self._as_of(end)
        spent = sum(v for d, v in daily.items() if d <= as_of)
        forecast = forecast_micros(
            daily, first=first, end=end, as_of=as_of, window=self._window
        )
        return Reading(budget, first, end, as_of, spent, forecast)

    # -- recording ------------------------------------------------------------

    async def _record(
        self, found: list[tuple[Reading, Transition]], causes: list[str]
    ) -> None:
        """States, alerts, deliveries and action runs of one pass, one transaction."""
        assert self._states is not None
        new_states: dict[StateKey, Crossing] = {}
        alerts: list[tuple[Reading, Transition, BudgetAlertChanged]] = []
        for reading, change in found:
            percent, basis = change.threshold.key()
            key = (reading.budget.id, reading.period_start, percent, basis)
            firing = change.status == "alert"
            new_states[key] = Crossing(firing, change.crossings, change.alert_id)
            alerts.append((reading, change, self._alert(reading, change, causes)))
        async with self._store.pool.acquire() as conn, conn.transaction():
            disabled = await self._store.disabled_webhooks(conn)
            await self._store.save_states(conn, list(new_states.items()))
            new = await self._store.record_alerts(conn, [a for _r, _c, a in alerts])
            for reading, change, alert in alerts:
                if (alert.alert_id, alert.status) not in new:
                    continue  # recorded before (a replay after a crash): sent then
                await self._queue_webhooks(conn, alert, disabled)
                if change.status == "alert" and reading.budget.id in self._acted:
                    await self._start_actions(conn, reading, change, disabled)
        self._states.update(new_states)
        self._keep_firing(new_states)
        self._on_change()

    def _keep_firing(self, new_states: dict[StateKey, Crossing]) -> None:
        """Bring the kept crossed-or-not arrays in step with the new states."""
        for (budget_id, period_start, percent, basis), state in new_states.items():
            group = self._group_of.get(budget_id)
            if group is None or (group, period_start) not in self._firing:
                continue
            position = self._groups[group].pair_position[(budget_id, percent, basis)]
            self._firing[(group, period_start)][position] = state.firing

    def _alert(
        self, reading: Reading, change: Transition, causes: list[str]
    ) -> BudgetAlertChanged:
        budget = reading.budget
        return BudgetAlertChanged(
            event_id=uuid.uuid5(change.alert_id, change.status),
            occurred_at=self._now(),
            alert_id=change.alert_id,
            status=change.status,
            budget_id=budget.id,
            budget_name=budget.name,
            scope=budget.scope.model_dump(mode="json", exclude_none=True),
            threshold_percent=change.threshold.percent,
            basis=change.threshold.basis.value,
            period_start=reading.period_start,
            period_end=reading.period_end,
            spent_micros=reading.spent_micros,
            forecast_micros=reading.forecast_micros,
            budget_micros=to_micros(budget.amount),
            currency=budget.currency,
            as_of=reading.as_of,
            causes=causes,
        )

    async def _queue_webhooks(
        self, conn: Any, alert: BudgetAlertChanged, disabled: set[str]
    ) -> None:
        kind = event_type(alert)
        for hook in self.config.webhooks:
            if hook.id in disabled or not hook.wants(kind, alert.budget_id):
                continue
            await self._store.queue_delivery(
                conn,
                msg_id=f"msg_{alert.alert_id.hex}_{alert.status}",
                target_kind="webhook",
                target_id=hook.id,
                event_type=kind,
                url=hook.url,
                payload=alert_body(alert, hook.format),
            )

    async def _start_actions(
        self, conn: Any, reading: Reading, change: Transition, disabled: set[str]
    ) -> None:
        for action in self.config.actions:
            if (
                action.budget != reading.budget.id
                or action.on.key() != change.threshold.key()
            ):
                continue
            last = await self._store.last_run_at(conn, action.id)
            cooldown = timedelta(minutes=action.cooldown_minutes)
            if last is not None and self._now() - last < cooldown:
                _log.info("action %s in its cool-down; not started", action.id)
                continue
            await self._start_run(conn, action, reading, change, disabled)

    async def _start_run(
        self,
        conn: Any,
        action: Action,
        reading: Reading,
        change: Transition,
        disabled: set[str],
    ) -> None:
        run_id = uuid.uuid5(change.alert_id, action.id)
        resources = await _targets(conn, action, reading)
        automatic = action.approval is Approval.AUTOMATIC
        trigger = (
            ActionEvent.TRIGGERED_AUTOMATIC
            if automatic
            else ActionEvent.TRIGGERED_MANUAL
        )
        state = next_state(ActionState.STANDBY, trigger)
        created = await self._store.create_run(
            conn,
            run_id=run_id,
            action_id=action.id,
            alert_id=change.alert_id,
            state=state.value,
            resources=resources,
        )
        if not created:
            return
        await self._store.audit(
            conn,
            run_id,
            "governance",
            f"alert {change.alert_id} fired: {state.value}",
            {"resources": resources, "approval": action.approval.value},
        )
        if automatic:
            await executor_delivery(
                conn,
                run_id=run_id,
                action=action,
                operation="execute",
                resources=resources,
                alert_id=str(change.alert_id),
            )
        await queue_action_webhooks(
            self._store, conn, self.config, action, run_id, state, resources, disabled
        )


async def _targets(conn: Any, action: Action, reading: Reading) -> list[dict[str, Any]]:
    shutdown = action.shutdown
    if shutdown.resources is not None:
        return [{"resource_id": r} for r in shutdown.resources]
    assert shutdown.filter is not None
    return await filter_resources(
        conn, shutdown.filter, reading.period_start, reading.period_end
    )


def action_message(
    action: Action,
    run_id: uuid.UUID,
    state: ActionState,
    resources: list[dict[str, Any]],
) -> dict[str, Any]:
    """The native body of an `action.<state>` webhook."""
    return {
        "type": f"action.{state.value}",
        "run_id": str(run_id),
        "action_id": action.id,
        "budget_id": action.budget,
        "state": state.value,
        "resources": resources,
    }


async def queue_action_webhooks(
    store: GovernanceStore,
    conn: Any,
    config: GovernanceFile,
    action: Action,
    run_id: uuid.UUID,
    state: ActionState,
    resources: list[dict[str, Any]],
    disabled: set[str],
) -> None:
    """Tell the subscribers of `action.*` events (always in the native format)."""
    import json

    kind = f"action.{state.value}"
    body = json.dumps(
        action_message(action, run_id, state, resources),
        default=str,
        separators=(",", ":"),
    ).encode()
    for hook in config.webhooks:
        if hook.id in disabled or not hook.wants(kind, action.budget):
            continue
        if hook.format is not PayloadFormat.NATIVE:
            continue
        await store.queue_delivery(
            conn,
            msg_id=f"msg_{run_id.hex}_{state.value}",
            target_kind="webhook",
            target_id=hook.id,
            event_type=kind,
            url=hook.url,
            payload=body,
        )


def _days(first: date, end: date) -> Iterable[date]:
    day = first
    while day < end:
        yield day
        day += timedelta(days=1)
