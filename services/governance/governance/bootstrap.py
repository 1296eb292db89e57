"""Builds the governance service: the consumer of allocation results and node costs,
the evaluation loop, the delivery loop and the alerts publisher, in one lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from fastapi import FastAPI

from finops.adapters.connections import Connections
from finops.adapters.dead_letters import DeadLetters
from finops.adapters.group_consumer import GroupConsumer
from finops.adapters.http_runtime import add_health_routes
from finops.contracts.events import AllocationComputed, Event, NodeCostsReported
from finops.contracts.topics import ALLOCATIONS, BUDGET_ALERTS, NODE_COSTS, topic_name
from governance.metrics import (
    ALERTS,
    DELIVERIES,
    DELIVERY_SECONDS,
    EVALUATION_SECONDS,
    EVENTS,
    REGISTRY,
)
from governance.service import BudgetEvaluator
from governance.settings import GovernanceSettings
from governance.store import GovernanceStore
from governance.webhooks.delivery import AddressPolicy, Deliverer

__all__ = ["create_app", "touched_days"]

_log = logging.getLogger(__name__)
# The database or the broker failed: the loop waits and tries again.
_TRANSIENT = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    KafkaError,
)


def touched_days(event: Event) -> set[date]:
    """The charge dates an event changed."""
    if isinstance(event, AllocationComputed):
        return {event.charge_date}
    if isinstance(event, NodeCostsReported):
        days = {c.date for c in event.costs}
        if event.replaces is not None:
            day = event.replaces.first
            while day <= event.replaces.last and len(days) < 400:
                days.add(day)
                day += timedelta(days=1)
        return days
    return set()


class _Loops:
    """The background loops; one that dies stops the process (its supervisor restarts
    it) rather than leaving a service that answers but does nothing."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []
        self.failures: dict[str, str] = {}

    def start(self, name: str, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = asyncio.create_task(loop(), name=name)
        task.add_done_callback(self._ended)
        self.tasks.append(task)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        _log.critical("loop %s ended (%r); stopping the service", task.get_name(), exc)
        self.failures[task.get_name()] = repr(exc)
        os.kill(os.getpid(), signal.SIGTERM)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def healthy(self) -> bool:
        return not self.failures and all(not t.done() for t in self.tasks)


def _observe_delivery(outcome: str, seconds: float) -> None:
    DELIVERIES.labels(outcome).inc()
    DELIVERY_SECONDS.observe(seconds)


async def _wait(event: asyncio.Event, timeout_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout_s)


def create_app(settings: GovernanceSettings) -> FastAPI:
    """The service's HTTP app; connections and loops start in its lifespan."""
    connections = Connections(settings.kafka, settings.postgres, client_id="governance")
    loops = _Loops()
    parts: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await connections.open()
            stack.push_async_callback(connections.close)
            client = httpx.AsyncClient(follow_redirects=False)
            stack.push_async_callback(client.aclose)
            await _start(settings, connections, client, loops, parts, stack)
            app.state.governance = parts
            yield

    async def consumer_ok() -> bool:
        consumer = parts.get("consumer")
        return consumer is None or bool(consumer.health().ok)

    app = FastAPI(title="finops governance", lifespan=lifespan)
    add_health_routes(
        app,
        service="governance",
        registry=REGISTRY,
        checks={
            "kafka": connections.kafka_ok,
            "database": connections.database_ok,
            "consumer": consumer_ok,
            "loops": loops.healthy,
        },
    )
    return app


async def _start(
    settings: GovernanceSettings,
    connections: Connections,
    client: httpx.AsyncClient,
    loops: _Loops,
    parts: dict[str, Any],
    stack: AsyncExitStack,
) -> None:
    store = GovernanceStore(connections.pool)
    deliverer_ref: list[Deliverer] = []
    publish_wake = asyncio.Event()

    def changed() -> None:
        publish_wake.set()
        if deliverer_ref:
            deliverer_ref[0].wake.set()

    evaluator = BudgetEvaluator(
        store, window_days=settings.forecast_window_days, on_change=changed
    )
    await evaluator.refresh_config()
    deliverer = Deliverer(
        store,
        client,
        lambda: evaluator.config,
        policy=AddressPolicy(
            allow_loopback=settings.allow_loopback_targets,
            allow_private=settings.allow_private_targets,
        ),
        timeout_s=settings.attempt_timeout_s,
        backoff_scale=settings.backoff_scale,
        observe=_observe_delivery,
    )
    deliverer_ref.append(deliverer)
    parts.update(evaluator=evaluator, deliverer=deliverer, store=store)

    async def handle(event: Event, message: ConsumerRecord[bytes, bytes]) -> None:
        days = touched_days(event)
        evaluator.touch(days, f"{message.topic}/{message.partition}/{message.offset}")
        EVENTS.labels(message.topic, "handled").inc()

    namespace = settings.kafka.topic_namespace
    dead = DeadLetters(
        connections.producer,
        consumer="governance",
        namespace=namespace,
        counted=lambda topic: EVENTS.labels(topic, "dead_letter").inc(),
    )
    consumer = GroupConsumer(
        [ALLOCATIONS, NODE_COSTS],
        handle,
        dead,
        kafka=settings.kafka,
        group_id=f"{namespace}.{settings.consumer_group}"
        if namespace
        else settings.consumer_group,
        accepts=(AllocationComputed, NodeCostsReported),
        stall_s=settings.stall_s,
    )
    await consumer.start()
    stack.push_async_callback(consumer.stop)
    parts["consumer"] = consumer

    async def evaluate() -> None:
        while True:
            await _wait(evaluator.wake, settings.config_poll_s)
            try:
                await evaluator.refresh_config()
                await asyncio.sleep(settings.evaluate_debounce_s)
                report = await evaluator.run_pass()
            except _TRANSIENT as exc:
                _log.warning("evaluation failed (%s); retried", exc)
                evaluator.wake.set()
                await asyncio.sleep(1.0)
                continue
            if report.readings:
                EVALUATION_SECONDS.observe(report.seconds)
            if report.alerts:
                ALERTS.labels("changed").inc(report.alerts)

    async def deliver() -> None:
        while True:
            try:
                done = await deliverer.run_once()
            except _TRANSIENT as exc:
                _log.warning("delivery failed (%s); retried", exc)
                done = 0
            if not done:
                deliverer.wake.clear()
                await _wait(deliverer.wake, settings.delivery_poll_s)

    alerts_topic = topic_name(BUDGET_ALERTS, namespace)

    async def publish() -> None:
        while True:
            await _wait(publish_wake, 1.0)
            publish_wake.clear()
            try:
                pending = await store.unpublished_alerts()
                for _seq, budget_id, event in pending:
                    await connections.producer.send_and_wait(
                        alerts_topic, key=budget_id.encode(), value=event.encode()
                    )
                if pending:
                    await store.mark_published([seq for seq, _b, _e in pending])
                    publish_wake.set()
            except _TRANSIENT as exc:
                _log.warning("publishing alerts failed (%s); retried", exc)
                await asyncio.sleep(1.0)

    loops.start("evaluate", evaluate)
    loops.start("deliver", deliver)
    loops.start("publish", publish)
    stack.push_async_callback(loops.stop)
