"""`finops dev up | status | down` on its own ports: real broker, database, services."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TypedDict

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from finops_tools.devstack.processes import is_alive
from tests.support.cli import FINOPS, finops
from tests.support.infrastructure import free_port_block

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack_env() -> Iterator[dict[str, str]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"}
    }
    # one block: the stack's services use base..base+3, Kafka and PostgreSQL the rest
    base = free_port_block(7)
    root = Path(tempfile.mkdtemp(prefix="finops-e2e-devstack-"))
    env.update(
        FINOPS_STATE_DIR=str(root / ".finops"),
        FINOPS_KAFKA_PORT=str(base + 4),
        FINOPS_KAFKA_CONTROLLER_PORT=str(base + 5),
        FINOPS_POSTGRES_PORT=str(base + 6),
        FINOPS_SERVICE_BASE_PORT=str(base),
    )
    yield env
    subprocess.run([*FINOPS, "dev", "down"], env=env, capture_output=True, check=False)
    shutil.rmtree(root, ignore_errors=True)


class _Row(TypedDict):
    """One component in `finops dev status --json`."""

    name: str
    state: str
    address: str
    pid: int | None
    log: str


def _status(env: dict[str, str]) -> dict[str, _Row]:
    rows: list[_Row] = json.loads(finops(env, "dev", "status", "--json").stdout)
    return {row["name"]: row for row in rows}


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def test_up_status_down_and_data_survives(stack_env: dict[str, str]) -> None:
    up = finops(stack_env, "dev", "up")
    for component in ("kafka", "postgres", "ingest", "allocator", "governance", "api"):
        assert f"{component}" in up.stderr and "ready in" in up.stderr
    status = _status(stack_env)
    assert {row["state"] for row in status.values()} == {"running"}
    _check_services_answer(status)
    kafka = str(status["kafka"]["address"])
    assert ":***@" in status["postgres"]["address"]  # a password, never shown
    migrate_env = stack_env  # the commands find the stack's database and password
    assert "migrations: applied 0001_core" in up.stderr
    assert "up to date" in finops(migrate_env, "db", "migrate").stdout
    token_file = Path(stack_env["FINOPS_STATE_DIR"]) / "admin.token"
    token = token_file.read_text().strip()
    assert f"token: {token}\n" in up.stderr
    assert "token: admin scope, created;" in up.stderr
    assert token_file.stat().st_mode & 0o777 == 0o600
    listed = json.loads(finops(migrate_env, "tokens", "list", "--json").stdout)
    assert [(t["name"], t["scopes"]) for t in listed] == [("dev-stack", ["admin"])]
    asyncio.run(_check_database_logins(stack_env, status))
    _check_private_logs(Path(stack_env["FINOPS_STATE_DIR"]) / "logs")
    asyncio.run(_produce(kafka, b"kept across restarts"))
    pids = [row["pid"] for row in status.values() if row["pid"] is not None]
    assert len(pids) == len(status)  # every component runs, so each has a pid

    finops(stack_env, "dev", "down")
    assert not any(is_alive(pid) for pid in pids)
    assert {row["state"] for row in _status(stack_env).values()} == {"stopped"}
    _check_clean_shutdown(Path(stack_env["FINOPS_STATE_DIR"]) / "logs")

    again = finops(stack_env, "dev", "up", "--no-services")
    assert "cached jars reused" in again.stderr
    assert f"token: {token}\n" in again.stderr
    assert "token: admin scope, kept;" in again.stderr
    assert "up to date" in finops(migrate_env, "db", "migrate").stdout
    assert asyncio.run(_consume_first(kafka)) == b"kept across restarts"


def _check_services_answer(status: dict[str, _Row]) -> None:
    for name in ("ingest", "allocator", "governance", "api"):
        address = status[name]["address"]
        code, body = _get(f"{address}/healthz")
        checks = json.loads(body)["checks"]
        # every service checks both; some check more (governance: its consumer, loops)
        assert code == 200 and checks["kafka"] is True and checks["database"] is True
        assert all(value is True for value in checks.values()), checks
        code, body = _get(f"{address}/metrics")
        assert code == 200 and f"finops_{name}_events_total" in body


async def _check_database_logins(env: dict[str, str], status: dict[str, _Row]) -> None:
    """The superuser needs its password; the services log in as finops_app, which is
    no superuser and may make no role."""
    port = int(env["FINOPS_POSTGRES_PORT"])
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/finops")
    state = Path(env["FINOPS_STATE_DIR"]) / "postgres"
    assert (state / "superuser.password").stat().st_mode & 0o777 == 0o600
    password = (state / "superuser.password").read_text().strip()
    conn = await asyncpg.connect(
        f"postgresql://postgres:{password}@127.0.0.1:{port}/finops"
    )
    try:
        users = await conn.fetch(
            "SELECT DISTINCT usename FROM pg_stat_activity"
            " WHERE datname = 'finops' AND pid <> pg_backend_pid()"
        )
        role = await conn.fetchrow(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
            " WHERE rolname = 'finops_app'"
        )
    finally:
        await conn.close()
    # the api's queries log in as the read-only role (issue 17), the rest as finops_app
    assert {u["usename"] for u in users} == {"finops_app", "finops_api_reader"}
    assert role is not None and not any(role.values())
    api = str(status["api"]["address"])
    token = (Path(env["FINOPS_STATE_DIR"]) / "admin.token").read_text().strip()
    request = urllib.request.Request(
        f"{api}/v1/dashboard/summary", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200  # answered through the read-only login
    reader = await asyncpg.connect(
        f"postgresql://postgres:{password}@127.0.0.1:{port}/finops"
    )
    try:
        can_write = await reader.fetchval(
            "SELECT has_table_privilege('finops_api_reader', 'cost_lines', 'INSERT')"
        )
    finally:
        await reader.close()
    assert can_write is False


def _check_private_logs(logs: Path) -> None:
    for log in logs.glob("*.log"):
        assert log.stat().st_mode & 0o077 == 0, log


def _check_clean_shutdown(logs: Path) -> None:
    for name in ("ingest", "allocator", "governance", "api"):
        assert "Application shutdown complete" in (logs / f"{name}.log").read_text(), (
            name
        )


async def _produce(bootstrap: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait("e2e.persistence", value)
    finally:
        await producer.stop()


async def _consume_first(bootstrap: str) -> bytes | None:
    consumer = AIOKafkaConsumer(
        "e2e.persistence",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=15_000)
        values = [m.value for msgs in batch.values() for m in msgs]
        return values[0] if values else None
    finally:
        await consumer.stop()
