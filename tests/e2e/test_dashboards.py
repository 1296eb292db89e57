"""The dashboards and the report against the real stack: ingest, allocator,
governance and api as processes on the real Kafka and PostgreSQL, fed a synthetic
organisation, a FOCUS bill with tags, usage and a budget that fires. Every panel's
SQL runs as Grafana's read-only role and returns rows with its columns; every
variable resolves; every PromQL metric exists on the services' /metrics; the HTML
report draws in headless Chromium and shows the api's totals."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from finops.adapters.migrations import apply_migrations
from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops_tools.cloudsim.focusfile import HourLine, render_csv
from finops_tools.cloudsim.simulator import DEFAULT_RESOURCES
from finops_tools.dashboards.catalog import build_all, sql_targets
from finops_tools.dashboards.panels import ALL
from finops_tools.dashboards.variables import VARIABLES
from tests.support.allocator_process import AllocatorProcess
from tests.support.api_process import ApiProcess
from tests.support.cli import finops
from tests.support.deadline import Deadline
from tests.support.grafana_sql import Choice, interpolate
from tests.support.infrastructure import Infrastructure, free_port
from tests.support.promql_names import exposed_names, prom_targets, selected_metrics
from tests.support.service_process import Running, start_process, start_service
from tests.support.stream_checks import make_org

pytestmark = pytest.mark.e2e

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DAYS = 6


@dataclass(frozen=True)
class Fed:
    """The running services over stored data, and the window it covers."""

    env: dict[str, str]
    postgres: PostgresSettings
    services: dict[str, str]
    first: datetime
    last: datetime


def _post(url: str, body: bytes) -> dict[str, Any]:
    request = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(request, timeout=60) as answer:
        result: dict[str, Any] = json.loads(answer.read())
    return result


def _put(url: str, body: bytes) -> dict[str, Any]:
    request = urllib.request.Request(url, data=body, method="PUT")
    with urllib.request.urlopen(request, timeout=60) as answer:
        result: dict[str, Any] = json.loads(answer.read())
    return result


def _feed(ingest: str, org: Path, first: datetime) -> None:
    """Node costs and usage as files; a FOCUS bill of three providers with tags."""
    for fmt, name in (("node-costs", "costs.csv"), ("usage", "usage.csv")):
        url = f"{ingest}/ingests?filename={name}&source=finance&format={fmt}"
        assert _post(url, (org / name).read_bytes())["status"] == "succeeded"
    products = sorted(
        n["id"]
        for n in json.loads((org / "graph.json").read_text())["nodes"]
        if n["type"] == "product"
    )
    usage = "node,date,metric,value\n" + "".join(
        f"{p},{(first + timedelta(days=d)).date()},{metric},{value}\n"
        for p in products
        for d in range(DAYS)
        for metric, value in (("requests", 1000 + d), ("revenue", 900 + 10 * d))
    )
    url = f"{ingest}/ingests?filename=units.csv&source=product-units&format=usage"
    assert _post(url, usage.encode())["status"] == "succeeded"
    rules = (
        "cost_column: BilledCost\ndimension: compute\ndefault_node: res-00001\n"
        "rules:\n  - when: {ProviderName: AWS}\n    node: res-00002\n"
    )
    rules_id = _put(f"{ingest}/rules", rules.encode())["rules_id"]
    lines = [
        HourLine(resource, first + timedelta(hours=h))
        for h in range(48)
        for resource in DEFAULT_RESOURCES
    ]
    url = (
        f"{ingest}/ingests?filename=bill.csv&source=cloud-export&format=focus"
        f"&rules={rules_id}"
    )
    assert _post(url, render_csv(lines).encode())["status"] == "succeeded"


def _governance_file(path: Path, product: str, hook: int, executor: int) -> Path:
    path.write_text(
        f"""budgets:
  - id: {product}-monthly
    name: {product} monthly
    amount: "1.00"
    period: month
    scope: {{node: {product}}}
    thresholds: [{{percent: 50, basis: actual}}]
webhooks:
  - id: ops
    url: http://127.0.0.1:{hook}/hooks/budget
    secret: {SECRET}
    events: [budget.alert, budget.resolved]
actions:
  - id: stop-{product}
    budget: {product}-monthly
    on: {{percent: 50, basis: actual}}
    shutdown: {{resources: ["vm-{product}"]}}
    executor: {{url: "http://127.0.0.1:{executor}/deallocate", secret: {SECRET}}}
    approval: manual
"""
    )
    return path


async def _count(postgres: PostgresSettings, query: str) -> int:
    conn = await asyncpg.connect(
        postgres.database_url, server_settings={"search_path": postgres.db_schema}
    )
    try:
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


def _wait(postgres: PostgresSettings, what: str, query: str, at_least: int) -> None:
    deadline = Deadline(240, what)
    while (got := asyncio.run(_count(postgres, query))) < at_least:
        deadline.check(f"{got} < {at_least}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def fed(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fed]:
    work = tmp_path_factory.mktemp("dashboards")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    kafka = KafkaSettings(
        bootstrap_servers=infrastructure.bootstrap_servers,
        topic_namespace=f"t{uuid.uuid4().hex[:10]}",
    )
    postgres = PostgresSettings(
        DATABASE_URL=infrastructure.database_url, DATABASE_SCHEMA=schema
    )
    asyncio.run(_migrate(postgres))
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "KAFKA_TOPIC_NAMESPACE": kafka.topic_namespace,
        "DATABASE_URL": postgres.database_url,
        "DATABASE_SCHEMA": schema,
        "INGEST_SPOOL_DIR": str(work / "spool"),
        "INGEST_DROP_DIR": str(work / "drop"),
        "GOVERNANCE_ALLOW_LOOPBACK_TARGETS": "true",
        "GOVERNANCE_BACKOFF_SCALE": "0.02",
        "FINOPS_AUTH_MODE": "open",
    }
    import os

    full_env = {**os.environ, **env}
    org = make_org(work / "org", days=DAYS, seed=5)
    finops(full_env, "graph", "apply", str(org / "graph.json"))
    hook, executor = free_port(), free_port()
    running: list[Running] = [
        start_process(
            [
                sys.executable,
                "-m",
                "finops_tools.cloudsim.receiver",
                "--port",
                str(hook),
                "--secret",
                SECRET,
                "--record",
                str(work / "hooks.jsonl"),
                "--fail-first",
                "1",
            ],
            env={},
            log=work / "receiver.log",
            url=f"http://127.0.0.1:{hook}",
        )
    ]
    allocator = AllocatorProcess(kafka, postgres, work)
    api = ApiProcess(kafka, postgres, work, extra_env={"FINOPS_AUTH_MODE": "open"})
    try:
        allocator.start()
        running.append(start_service("ingest", "INGEST_", env, work / "ingest.log"))
        running.append(
            start_service("governance", "GOVERNANCE_", env, work / "governance.log")
        )
        api.start()
        first = datetime.fromisoformat(
            (org / "costs.csv").read_text().splitlines()[1].split(",")[1]
        ).replace(tzinfo=UTC)
        product = sorted(
            n["id"]
            for n in json.loads((org / "graph.json").read_text())["nodes"]
            if n["type"] == "product"
        )[0]
        _feed(running[1].url, org, first)
        _wait(postgres, "every day stored", "SELECT count(*) FROM allocator_days", DAYS)
        _wait(postgres, "flows", "SELECT count(*) FROM allocation_contributions", 1)
        # Applied once results are stored: governance (main at 180f071) stops on an
        # IndexError when it evaluates a node budget whose node has no results yet.
        gov = _governance_file(work / "gov.yaml", product, hook, executor)
        finops(full_env, "budgets", "apply", str(gov))
        _wait(postgres, "an alert", "SELECT count(*) FROM budget_alerts", 1)
        _wait(postgres, "a retry", "SELECT count(*) FROM webhook_attempts", 2)
        _wait(postgres, "an action run", "SELECT count(*) FROM action_audit", 1)
        urllib.request.urlopen(f"{api.url}/v1/products", timeout=30).read()
        services = {
            "ingest": running[1].url,
            "governance": running[2].url,
            "allocator": f"http://127.0.0.1:{allocator.port}",
            "api": api.url,
        }
        yield Fed(full_env, postgres, services, first, first + timedelta(days=DAYS - 1))
    finally:
        api.stop()
        for process in reversed(running):
            process.stop()
        allocator.stop()
        asyncio.run(_drop(postgres))


async def _migrate(postgres: PostgresSettings) -> None:
    conn = await asyncpg.connect(postgres.database_url)
    try:
        await apply_migrations(
            conn, folder=postgres.migrations_dir, schema=postgres.db_schema
        )
    finally:
        await conn.close()


async def _drop(postgres: PostgresSettings) -> None:
    conn = await asyncpg.connect(postgres.database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{postgres.db_schema}" CASCADE')
    finally:
        await conn.close()


async def _grafana_session(postgres: PostgresSettings) -> asyncpg.Connection:
    """A session as Grafana's role: it may read the views and nothing else."""
    conn = await asyncpg.connect(
        postgres.database_url,
        server_settings={
            "search_path": postgres.db_schema,
            "default_transaction_read_only": "on",
        },
    )
    await conn.execute("SET ROLE finops_grafana")
    return conn


async def _check_sql(fed: Fed) -> list[str]:
    start = fed.first - timedelta(days=1)
    end = datetime.now(UTC) + timedelta(days=1)
    conn = await _grafana_session(fed.postgres)
    problems = []
    try:
        choices = {"group_by": Choice(("provider",), multi=False)}
        for name, spec in VARIABLES.items():
            query = interpolate(spec.query, start=start, end=end, choices=choices)
            values = [r["__text"] for r in await conn.fetch(query)]
            if not values:
                problems.append(f"variable {name} resolves to nothing")
                continue
            choices[name] = Choice(
                tuple(values[:1]),
                multi=spec.multi,
                all_value=ALL if spec.multi else None,
            )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT spec FROM governance_items")
        for built in build_all():
            for title, target in sql_targets(built):
                for label, picked in (("All", choices), ("one", _one(choices))):
                    sql = interpolate(
                        target.raw_sql, start=start, end=end, choices=picked
                    )
                    rows = await conn.fetch(sql)
                    where = f"{built.spec.file} {title!r} ({label})"
                    if label == "All" and not rows:
                        problems.append(f"{where}: no rows")
                    if rows and tuple(rows[0].keys()) != target.columns:
                        problems.append(f"{where}: columns {tuple(rows[0].keys())}")
    finally:
        await conn.close()
    return problems


def _one(choices: dict[str, Choice]) -> dict[str, Choice]:
    """Each multi-value variable narrowed to its first value (not All)."""
    return {
        name: Choice(c.values, multi=c.multi) if c.all_value else c
        for name, c in choices.items()
    }


def test_every_panel_sql_returns_rows_with_its_columns_as_grafana(fed: Fed) -> None:
    assert asyncio.run(_check_sql(fed)) == []


def test_every_promql_metric_is_exposed_by_a_running_service(fed: Fed) -> None:
    exposed: set[str] = set()
    for url in fed.services.values():
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
            exposed |= exposed_names(answer.read().decode())
    assert "finops_api_request_duration_seconds_bucket" in exposed
    checked = 0
    for built in build_all():
        for title, expr in prom_targets(built.as_json()):
            for selected in selected_metrics(expr):
                if selected.name == "up":  # made by Prometheus at each scrape
                    continue
                assert selected.found_in(exposed), (built.spec.file, title, selected)
                checked += 1
    assert checked >= 9


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is missing: `make setup` installs Debian's package"
    return found


def test_the_html_report_draws_in_chromium_with_the_api_totals(
    fed: Fed, tmp_path: Path
) -> None:
    first, last = fed.first.date().isoformat(), fed.last.date().isoformat()
    page = tmp_path / "report.html"
    finops(fed.env, "report", "--html", str(page), "--from", first, "--to", last)
    url = f"{fed.services['api']}/v1/products/hierarchy?start={first}&end={last}"
    with urllib.request.urlopen(url, timeout=30) as answer:
        summary = json.loads(answer.read())["summary"]
    browser = _chromium()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1100,1900"]
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", page.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    print(f"\nreport screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    text = page.read_text()
    assert "<script" not in text and "@import" not in text
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text), "a fetch"
    totals = dict(re.findall(r'data-total="(\w+)" data-value="([^"]+)"', dom))
    assert totals["raw_total"] == summary["raw_total"]["amount"]
    assert totals["allocated"] == summary["allocated_to_products"]["amount"]
    assert totals["unallocated"] == summary["unallocated"]["amount"]
    sankey = re.search(r'<svg[^>]*class="chart sankey".*?</svg>', dom, re.S)
    assert sankey and sankey.group(0).count('class="link"') >= 5
    assert {"AWS", "Microsoft", "Snowflake"} <= set(
        re.findall(r"<text[^>]*>(\w+) [\d,.]+</text>", sankey.group(0))
    )
    trends = re.search(r'<svg[^>]*class="chart lines".*?</svg>', dom, re.S)
    assert trends and 'class="series" points="' in trends.group(0)
