"""What every service's HTTP side shares: /healthz, /metrics, a clean SIGTERM stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Final, Protocol

import asyncpg
import uvicorn
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from finops.adapters.connections import Connections
from finops.contracts.settings import KafkaSettings, PostgresSettings, ServiceSettings

__all__ = [
    "FATAL_EXIT_CODE",
    "CheckOutcome",
    "HealthCheck",
    "add_health_routes",
    "add_request_timing",
    "add_unavailable_handlers",
    "create_service_app",
    "run_app",
    "stop_service",
    "watch_task",
]

_log = logging.getLogger(__name__)
# The exit status of a service stopped because a background task died: a supervisor
# restarting on failure starts it again (a clean SIGTERM stop exits 0).
FATAL_EXIT_CODE: Final = 70
_fatal: list[str] = []  # why the service stops itself (the process is the scope)
_servers: list[uvicorn.Server] = []  # the one run_app serves with


class CheckOutcome(Protocol):
    """A check's answer with a reason (e.g. a consumer's health)."""

    @property
    def ok(self) -> bool: ...

    @property
    def reason(self) -> str: ...


HealthCheck = Callable[[], Awaitable[bool | CheckOutcome]]


def stop_service(reason: str) -> None:
    """Stop this service as SIGTERM does, then exit with FATAL_EXIT_CODE: a task it
    needs died, and a service left running without it would look healthy idle."""
    if not _servers:  # not a service run by run_app (a test, a tool): say so only
        _log.critical("a task the service needs ended: %s", reason)
        return
    _log.critical("stopping the service: %s", reason)
    _fatal.append(reason)
    _servers[0].should_exit = True  # as SIGTERM, without uvicorn raising it after


def watch_task(task: asyncio.Task[Any], what: str) -> None:
    """Stop the service (stop_service) when `task` ends other than by cancellation."""

    def ended(done: asyncio.Task[Any]) -> None:
        if done.cancelled():
            return
        exc = done.exception()
        stop_service(f"{what} ended: {type(exc).__name__}: {exc}" if exc else what)

    task.add_done_callback(ended)


async def _run_check(check: HealthCheck) -> tuple[bool, str]:
    """(passed, reason); a check that raises has failed, naming the error."""
    try:
        outcome = await check()
    except Exception as exc:  # a probe answers, whatever broke
        return False, f"{type(exc).__name__}: {exc}"
    if isinstance(outcome, bool):
        return outcome, "" if outcome else "failed"
    return outcome.ok, outcome.reason


def _add_process_metrics(registry: CollectorRegistry) -> None:
    """The standard `process_*` metrics (CPU seconds, memory) on the service's
    registry, once; `finops usage pull` reads them in the demo."""
    with contextlib.suppress(ValueError):  # registered already (an app made twice)
        ProcessCollector(registry=registry)


def add_health_routes(
    app: FastAPI,
    *,
    service: str,
    registry: CollectorRegistry,
    checks: dict[str, HealthCheck] | None = None,
) -> None:
    """Add /healthz (200 when every check passes, else 503 with each failed check's
    reason) and /metrics (with the process's CPU and memory, `process_*`)."""
    checks = checks or {}
    _add_process_metrics(registry)

    @app.get("/healthz", summary="Liveness and readiness of the service.")
    async def healthz(response: Response) -> dict[str, Any]:
        outcomes = {name: await _run_check(check) for name, check in checks.items()}
        healthy = all(ok for ok, _ in outcomes.values())
        response.status_code = 200 if healthy else 503
        body: dict[str, Any] = {
            "service": service,
            "status": "ok" if healthy else "degraded",
            "checks": {name: ok for name, (ok, _) in outcomes.items()},
        }
        reasons = {name: why for name, (ok, why) in outcomes.items() if not ok}
        if reasons:
            body["reasons"] = reasons
        return body

    @app.get("/metrics", summary="Prometheus metrics.", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


# What a request meets when PostgreSQL or Kafka is away: a 503 (retry later), not
# a 500. asyncpg's connection errors are OSError or asyncpg.InterfaceError.
_UNAVAILABLE: Final = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    KafkaError,
)


def add_unavailable_handlers(app: FastAPI) -> None:
    """Answer 503 with Retry-After, naming what is away, when a request fails
    because the database or the broker cannot be reached."""

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        _log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": f"service unavailable, retry later: {type(exc).__name__}"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    for kind in _UNAVAILABLE:
        app.add_exception_handler(kind, unavailable)


def add_request_timing(app: FastAPI, histogram: Histogram) -> None:
    """Observe every request's seconds by route template (not the raw path, whose
    ids would make unbounded label values), method and status code."""

    @app.middleware("http")
    async def timed(request: Request, call_next: Any) -> Response:
        began = time.perf_counter()
        response: Response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        histogram.labels(template, request.method, str(response.status_code)).observe(
            time.perf_counter() - began
        )
        return response


def run_app(app: FastAPI, settings: ServiceSettings) -> None:
    """Serve until SIGTERM or SIGINT; requests finish and the lifespan's exit runs."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        lifespan="on",
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_timeout_s,
    )
    server = uvicorn.Server(config)
    _servers.append(server)
    server.run()
    if _fatal:
        raise SystemExit(FATAL_EXIT_CODE)


def create_service_app(
    service: str,
    *,
    kafka: KafkaSettings,
    postgres: PostgresSettings,
    registry: CollectorRegistry,
) -> FastAPI:
    """An app whose lifespan opens the service's connections; /healthz checks both."""
    connections = Connections(kafka, postgres, client_id=service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await connections.open()
        app.state.connections = connections
        try:
            yield
        finally:
            await connections.close()

    app = FastAPI(title=f"finops {service}", lifespan=lifespan)
    add_health_routes(
        app,
        service=service,
        registry=registry,
        checks={"kafka": connections.kafka_ok, "database": connections.database_ok},
    )
    return app
