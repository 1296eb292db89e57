"""/healthz says why it answers 503: each failed check's reason; a check that raises
(PostgreSQL gone, for instance) is a failed check, never a 500; a request that meets
an unreachable database or broker is a 503, never a 500; a watched task that dies
stops the service with a failure status."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from finops.adapters.group_consumer import ConsumerHealth
from finops.adapters.http_runtime import (
    FATAL_EXIT_CODE,
    add_health_routes,
    add_unavailable_handlers,
)


def _app(**checks: object) -> FastAPI:
    app = FastAPI()
    add_health_routes(
        app,
        service="s",
        registry=CollectorRegistry(),
        checks=checks,  # type: ignore[arg-type]
    )
    return app


async def _get(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/healthz")


async def test_every_check_passing_answers_200_without_reasons() -> None:
    async def yes() -> bool:
        return True

    async def fine() -> ConsumerHealth:
        return ConsumerHealth(True)

    response = await _get(_app(kafka=yes, consumer=fine))
    assert response.status_code == 200
    assert response.json() == {
        "service": "s",
        "status": "ok",
        "checks": {"kafka": True, "consumer": True},
    }


async def test_a_failed_check_answers_503_with_its_reason() -> None:
    async def yes() -> bool:
        return True

    async def stalled() -> ConsumerHealth:
        return ConsumerHealth(False, "no progress for 60 s")

    async def no() -> bool:
        return False

    response = await _get(_app(kafka=yes, consumer=stalled, database=no))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"] == {"kafka": True, "consumer": False, "database": False}
    assert body["reasons"] == {"consumer": "no progress for 60 s", "database": "failed"}


async def test_a_check_that_raises_is_a_503_naming_the_error() -> None:
    async def broken() -> bool:
        raise ConnectionRefusedError("connection refused")

    response = await _get(_app(database=broken))
    assert response.status_code == 503
    assert response.json()["reasons"] == {
        "database": "ConnectionRefusedError: connection refused"
    }


def test_a_watched_task_that_dies_stops_the_service_with_a_failure_status() -> None:
    script = textwrap.dedent(
        """
        import asyncio
        from fastapi import FastAPI
        from contextlib import asynccontextmanager
        from finops.adapters.http_runtime import run_app, watch_task
        from finops.contracts.settings import ServiceSettings

        async def follower():
            await asyncio.sleep(0.2)
            raise RuntimeError("the follower broke")

        @asynccontextmanager
        async def lifespan(app):
            task = asyncio.create_task(follower())
            watch_task(task, "the follower")
            yield

        run_app(FastAPI(lifespan=lifespan), ServiceSettings(http_port=0))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == FATAL_EXIT_CODE, done.stderr
    assert "the follower ended: RuntimeError: the follower broke" in done.stderr


async def test_a_request_meeting_an_unreachable_database_is_a_503() -> None:
    app = FastAPI()
    add_unavailable_handlers(app)

    @app.post("/ingests")
    async def ingest() -> None:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/ingests")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "ConnectionRefusedError" in response.json()["detail"]
