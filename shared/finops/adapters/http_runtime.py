"""What every service's HTTP side shares: /healthz, /metrics, a clean SIGTERM stop."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    generate_latest,
)

from finops.adapters.connections import Connections
from finops.contracts.settings import KafkaSettings, PostgresSettings, ServiceSettings

__all__ = [
    "HealthCheck",
    "add_health_routes",
    "add_request_timing",
    "create_service_app",
    "run_app",
]

HealthCheck = Callable[[], Awaitable[bool]]


def add_health_routes(
    app: FastAPI,
    *,
    service: str,
    registry: CollectorRegistry,
    checks: dict[str, HealthCheck] | None = None,
) -> None:
    """Add /healthz (200 when every check passes, else 503) and /metrics."""
    checks = checks or {}

    @app.get("/healthz", summary="Liveness and readiness of the service.")
    async def healthz(response: Response) -> dict[str, Any]:
        results = {name: await check() for name, check in checks.items()}
        healthy = all(results.values())
        response.status_code = 200 if healthy else 503
        return {
            "service": service,
            "status": "ok" if healthy else "degraded",
            "checks": results,
        }

    @app.get("/metrics", summary="Prometheus metrics.", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


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
    )
    uvicorn.Server(config).run()


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
