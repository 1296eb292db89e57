"""Governance end to end: ingest and governance as processes on the real Kafka and
PostgreSQL, webhook receivers as processes that verify signatures with the
`standardwebhooks` package, and the `finops` commands as a user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from finops.contracts.codec import decode_event
from finops.contracts.events import BudgetAlertChanged
from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops.contracts.topics import BUDGET_ALERTS, topic_name
from finops.domain.access import Scope
from finops_tools.cloudsim.focusfile import HourLine, render_csv
from finops_tools.cloudsim.simulator import DEFAULT_RESOURCES
from tests.support.cli import run_finops
from tests.support.deadline import Deadline
from tests.support.infrastructure import free_port
from tests.support.service_process import (
    Running,
    start_process,
    start_service,
    wait_healthy,
)
from tests.support.tokens import create_token

pytestmark = pytest.mark.e2e

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOV = datetime(2026, 11, 1, tzinfo=UTC)
LAB_VMS = [r for r in DEFAULT_RESOURCES if r.tags.get("env") == "dev"]
OTHERS = [r for r in DEFAULT_RESOURCES if r.tags.get("env") != "dev"]


@dataclass
class Stack:
    env: dict[str, str]
    ingest: Running
    governance: Running
    hooks: Path
    executor: Path
    hook_port: int
    executor_port: int
    postgres: PostgresSettings
    kafka: KafkaSettings


@pytest.fixture
def stack(
    kafka_settings: KafkaSettings, postgres_settings: PostgresSettings, tmp_path: Path
) -> Iterator[Stack]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "KAFKA_TOPIC_NAMESPACE": kafka_settings.topic_namespace,
        "DATABASE_URL": postgres_settings.database_url,
        "DATABASE_SCHEMA": postgres_settings.db_schema,
        "INGEST_SPOOL_DIR": str(tmp_path / "spool"),
        "INGEST_DROP_DIR": str(tmp_path / "drop"),
        "GOVERNANCE_ALLOW_LOOPBACK_TARGETS": "true",
        "GOVERNANCE_BACKOFF_SCALE": "0.02",  # 5 s -> 0.1 s: retries within the test
        "GOVERNANCE_ATTEMPT_TIMEOUT_S": "5",
        # Uploads to ingest need a token (sent by _upload).
        "FINOPS_TOKEN": asyncio.run(create_token(postgres_settings, Scope.INGEST)),
    }
    hook_port, executor_port = free_port(), free_port()
    hooks, executor = tmp_path / "hooks.jsonl", tmp_path / "executor.jsonl"
    receivers = [
        start_process(
            [
                sys.executable,
                "-m",
                "finops_tools.cloudsim.receiver",
                "--port",
                str(port),
                "--secret",
                SECRET,
                "--record",
                str(record),
                "--fail-first",
                str(fail),
            ],
            env={},
            log=tmp_path / f"receiver-{port}.log",
            url=f"http://127.0.0.1:{port}",
        )
        for port, record, fail in ((hook_port, hooks, 2), (executor_port, executor, 0))
    ]
    ingest = start_service("ingest", "INGEST_", env, tmp_path / "ingest.log")
    governance = start_service(
        "governance", "GOVERNANCE_", env, tmp_path / "governance.log"
    )
    try:
        yield Stack(
            env,
            ingest,
            governance,
            hooks,
            executor,
            hook_port,
            executor_port,
            postgres_settings,
            kafka_settings,
        )
    finally:
        for running in (governance, ingest, *receivers):
            running.stop()


def _governance_file(stack: Stack, path: Path, *, node: str | None = None) -> Path:
    scope = (
        f"{{node: {node}}}"
        if node
        else "{filter: {ServiceProviderName: Microsoft, Tags.env: dev}}"
    )
    lab_vm = LAB_VMS[0].resource_id
    executor = f"http://127.0.0.1:{stack.executor_port}/deallocate"
    path.write_text(
        f"""budgets:
  - id: azure-lab
    name: Azure lab
    amount: "1.00"
    currency: USD
    period: month
    scope: {scope}
    thresholds: [{{percent: 80, basis: actual}}, {{percent: 100, basis: forecast}}]
webhooks:
  - id: ops
    url: http://127.0.0.1:{stack.hook_port}/hooks/budget
    secret: {SECRET}
    events: [budget.alert, budget.resolved]
    format: native
actions:
  - id: stop-lab-vms
    budget: azure-lab
    on: {{percent: 80, basis: actual}}
    shutdown: {{filter: {{Tags.env: dev, ResourceType: Virtual Machine}}}}
    executor: {{url: "{executor}", secret: {SECRET}}}
    approval: automatic
  - id: approve-first
    budget: azure-lab
    on: {{percent: 100, basis: forecast}}
    shutdown: {{resources: ["{lab_vm}"]}}
    executor: {{url: "{executor}", secret: {SECRET}}}
    approval: manual
"""
    )
    return path


def _upload(stack: Stack, hours: int, *, name: str = "azure-nov.csv") -> dict[str, Any]:
    """The Azure lab VMs (and other resources) billed hourly from Nov 1."""
    lines = [
        HourLine(resource, NOV + timedelta(hours=h))
        for h in range(hours)
        for resource in (*LAB_VMS, *OTHERS[:1])
    ]
    request = urllib.request.Request(
        f"{stack.ingest.url}/ingests?filename={name}&source=azure-export&format=focus",
        data=render_csv(lines).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {stack.env['FINOPS_TOKEN']}"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        result: dict[str, Any] = json.loads(answer.read())
    assert result["status"] == "succeeded", result
    return result


def _received(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _wait_for(what: str, seconds: float, probe: Any) -> Any:
    deadline = Deadline(seconds, what)
    while True:
        value = probe()
        if value:
            return value
        deadline.check(repr(value)[:500])
        time.sleep(0.2)


async def _rows(stack: Stack, query: str, *args: Any) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(
        stack.postgres.database_url,
        server_settings={"search_path": stack.postgres.db_schema},
    )
    try:
        return [dict(r) for r in await conn.fetch(query, *args)]
    finally:
        await conn.close()


def _query(stack: Stack, query: str, *args: Any) -> list[dict[str, Any]]:
    return asyncio.run(_rows(stack, query, *args))


def _finops(stack: Stack, *args: str) -> Any:
    return run_finops(*args, env={**os.environ, **stack.env})


def test_a_budget_alert_reaches_a_receiver_signed_and_stops_the_lab(
    stack: Stack, tmp_path: Path
) -> None:
    governance_file = _governance_file(stack, tmp_path / "governance.yaml")
    applied = _finops(stack, "budgets", "apply", str(governance_file))
    assert applied.returncode == 0, applied.stderr
    assert "added budget azure-lab" in applied.stdout
    again = _finops(stack, "budgets", "apply", str(governance_file))
    assert again.stdout.strip() == "no changes"

    # 410 hours of two $0.001/h VMs: $0.82, past 80 % of $1.00
    _upload(stack, 410)
    alerts = _wait_for(
        "the 80 % alert at the receiver (after two 503 answers)",
        60,
        lambda: [
            r
            for r in _received(stack.hooks)
            if r["answered"] == 200 and '"threshold_percent":"80"' in r["body"]
        ],
    )
    body = json.loads(alerts[0]["body"])
    assert alerts[0]["verified"] and body["type"] == "budget.alert"
    # The alert fires when the stored spend first passes 80 %: the upload's hours may
    # be stored in more than one allocator pass, so it may name part of them.
    assert Decimal("0.8") <= Decimal(body["spent"]) <= Decimal("0.82")
    assert body["basis"] == "actual"
    assert body["budget"]["id"] == "azure-lab"
    # every attempt of one alert carried the same webhook-id; failures were retried
    attempts = [
        r
        for r in _received(stack.hooks)
        if r["headers"]["webhook-id"] == alerts[0]["headers"]["webhook-id"]
    ]
    assert len(attempts) >= 1 and all(r["verified"] for r in _received(stack.hooks))
    assert [r["answered"] for r in _received(stack.hooks)][:2] == [503, 503]

    # the automatic action deallocated the lab VMs through the executor
    calls = _wait_for(
        "the executor call",
        30,
        lambda: [r for r in _received(stack.executor) if r["verified"]],
    )
    call = json.loads(calls[0]["body"])
    assert call["operation"] == "execute" and call["action_id"] == "stop-lab-vms"
    assert sorted(r["resource_id"] for r in call["resources"]) == sorted(
        r.resource_id for r in LAB_VMS
    )
    runs = _wait_for(
        "the run to succeed",
        30,
        lambda: _query(
            stack,
            "SELECT run_id, state FROM action_runs WHERE action_id = 'stop-lab-vms' "
            "AND state = 'succeeded'",
        ),
    )
    audit = _finops(stack, "actions", "audit", str(runs[0]["run_id"]), "--json")
    events = [e["event"] for e in json.loads(audit.stdout)]
    assert events[0].endswith("executing") and events[-1] == "action.execute: succeeded"

    # the manual action waits for approval; a dry run calls nothing
    pending = _wait_for(
        "the manual run",
        30,
        lambda: _query(
            stack,
            "SELECT run_id, state FROM action_runs WHERE action_id = 'approve-first'",
        ),
    )
    assert pending[0]["state"] == "pending_approval"
    run_id = str(pending[0]["run_id"])
    dry = _finops(stack, "actions", "approve", run_id, "--dry-run")
    assert dry.returncode == 0 and '"would_become": "executing"' in dry.stdout
    assert len(_received(stack.executor)) == 1
    assert _finops(stack, "actions", "approve", run_id, "--by", "alice").returncode == 0
    _wait_for(
        "the approved run to succeed",
        30,
        lambda: _query(
            stack,
            "SELECT 1 FROM action_runs WHERE run_id = $1 AND state = 'succeeded'",
            uuid.UUID(run_id),
        ),
    )
    assert _finops(stack, "actions", "reverse", run_id).returncode == 0
    _wait_for(
        "the reversed run",
        30,
        lambda: _query(
            stack,
            "SELECT 1 FROM action_runs WHERE run_id = $1 AND state = 'reversed'",
            uuid.UUID(run_id),
        ),
    )
    operations = [json.loads(r["body"])["operation"] for r in _received(stack.executor)]
    assert operations == ["execute", "execute", "reverse"]
    twice = _finops(stack, "actions", "approve", run_id)
    assert twice.returncode == 2 and "cannot take 'approved'" in twice.stderr

    # the alerts are on the topic too
    published = asyncio.run(_topic_alerts(stack.kafka, 2))
    assert {(a.threshold_percent, a.basis) for a in published} == {
        (Decimal(80), "actual"),
        (Decimal(100), "forecast"),
    }

    # a SIGKILLed governance restarted, and the same file again: nothing fires twice
    before = _query(stack, "SELECT count(*) AS n FROM budget_alerts")[0]["n"]
    deliveries = _query(stack, "SELECT count(*) AS n FROM webhook_deliveries")[0]["n"]
    stack.governance.stop(signal.SIGKILL)
    stack.governance.restart()
    wait_healthy(stack.governance)
    _upload(stack, 410)
    time.sleep(3)
    assert _query(stack, "SELECT count(*) AS n FROM budget_alerts")[0]["n"] == before
    assert (
        _query(stack, "SELECT count(*) AS n FROM webhook_deliveries")[0]["n"]
        == deliveries
    )

    # a restatement under the thresholds resolves them, with the same alert id
    _upload(stack, 100, name="azure-nov-restated.csv")
    resolved = _wait_for(
        "the resolution at the receiver",
        60,
        lambda: [
            json.loads(r["body"])
            for r in _received(stack.hooks)
            if r["answered"] == 200 and '"budget.resolved"' in r["body"]
        ],
    )
    assert {r["alert_id"] for r in resolved} <= {
        json.loads(r["body"])["alert_id"] for r in _received(stack.hooks)
    }
    assert body["alert_id"] in {r["alert_id"] for r in resolved}

    # deliveries and their attempts are listed; one can be sent again
    listed = json.loads(_finops(stack, "webhooks", "list", "--json").stdout)
    assert {d["status"] for d in listed} == {"delivered"}
    hooks = sorted(d["delivery_id"] for d in listed if d["target_kind"] == "webhook")
    codes = {
        ident: [
            t["status_code"]
            for t in json.loads(
                _finops(stack, "webhooks", "attempts", str(ident), "--json").stdout
            )
        ]
        for ident in hooks
    }
    # the receiver's two 503 answers were retried; every delivery ended in a 200
    assert sum(c.count(503) for c in codes.values()) == 2
    assert all(c[-1] == 200 and set(c) <= {503, 200} for c in codes.values())
    first = next(d for d in listed if d["delivery_id"] == hooks[0])

    def copies() -> int:
        return sum(
            r["headers"]["webhook-id"] == first["msg_id"]
            for r in _received(stack.hooks)
        )

    before_redelivery = copies()
    again = _finops(stack, "webhooks", "redeliver", str(first["delivery_id"]))
    assert again.returncode == 0, again.stderr
    _wait_for("the redelivery", 30, lambda: copies() == before_redelivery + 1)


async def _topic_alerts(kafka: KafkaSettings, count: int) -> list[BudgetAlertChanged]:
    consumer = AIOKafkaConsumer(
        topic_name(BUDGET_ALERTS, kafka.topic_namespace),
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[BudgetAlertChanged] = []
    try:
        deadline = Deadline(30, f"{count} alerts on the topic")
        while len(found) < count:
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                for message in messages:
                    assert message.value is not None
                    event = decode_event(message.value)
                    assert isinstance(event, BudgetAlertChanged)
                    found.append(event)
            deadline.check(str(found))
    finally:
        await consumer.stop()
    return found


def test_a_refused_file_changes_nothing_and_names_the_line(
    stack: Stack, tmp_path: Path
) -> None:
    good = _governance_file(stack, tmp_path / "good.yaml")
    assert _finops(stack, "budgets", "apply", str(good)).returncode == 0
    bad = _governance_file(stack, tmp_path / "bad.yaml", node="no-such-node")
    refused = _finops(stack, "budgets", "apply", str(bad))
    assert refused.returncode == 2
    assert (
        "bad.yaml:7:" in refused.stderr
        and "unknown node 'no-such-node'" in refused.stderr
    )
    listed = json.loads(_finops(stack, "budgets", "list", "--json").stdout)
    assert [json.loads(b["scope"])["filter"] for b in listed] == [
        {"ServiceProviderName": "Microsoft", "Tags.env": "dev"}
    ]
