"""The api over data that went through the platform: a graph applied with
`POST /v1/graph`, bills and usage uploaded to the ingest service, results stored by
the allocator; every figure checked against `finops focus normalize` + `finops
allocate` on the same files. Then the admin routes: governance files, action runs,
deliveries, ingest runs and rejects; recommendations, unit costs and the FOCUS
exports (allocated charges sum to the origin bill lines)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import hypothesis
import pyarrow.parquet as pq
import pytest
import schemathesis
from schemathesis.checks import content_type_conformance, not_a_server_error
from schemathesis.core.result import Ok

from finops.adapters.migrations import apply_migrations
from finops.adapters.token_store import TokenStore
from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops.domain.access import Scope
from finops.domain.money import to_micros
from finops_tools.cloudsim.focusfile import HourLine, Resource, render_csv
from tests.support.allocator_process import AllocatorProcess
from tests.support.api_process import ApiProcess
from tests.support.infrastructure import Infrastructure
from tests.support.service_process import Running, start_service
from tests.support.stream_checks import finops, wait_for_document

pytestmark = pytest.mark.e2e

DAY0 = datetime(2025, 3, 1, tzinfo=UTC)
DAYS = 3
GRAPH = """nodes:
  - {id: vm-web, type: resource}
  - {id: vm-batch, type: resource}
  - {id: db, type: shared}
  - {id: orphan, type: shared}
  - {id: shop, type: product, labels: {team: shop}}
  - {id: search, type: product, labels: {team: search}}
edges:
  - {from: vm-web, to: shop, strategy: equal}
  - {from: vm-batch, to: db, strategy: equal}
  - {from: db, to: shop, strategy: proportional, params: {metric: requests}}
  - {from: db, to: search, strategy: proportional, params: {metric: requests}}
"""
RULES = """cost_column: BilledCost
dimension: "{ServiceCategory}"
default_node: unmapped
rules:
  - when: {"Tags.node": "*"}
    node: "{Tags.node}"
"""


def _resource(node: str, provider: str, category: str, hourly: str) -> Resource:
    return Resource(
        f"/r/{node}",
        node,
        "Virtual Machine",
        provider,
        f"{provider} {category}",
        category,
        "eu-west-1",
        f"acct-{provider.lower()}",
        "sub-1",
        Decimal(hourly),
        {"node": node},
    )


RESOURCES = [
    _resource("vm-web", "Microsoft", "Compute", "0.100000"),
    _resource("vm-batch", "AWS", "Compute", "0.050000"),
    _resource("db", "AWS", "Databases", "0.200000"),
    _resource("orphan", "Snowflake", "Compute", "0.010000"),
]


def _usage_rows() -> list[str]:
    rows = ["node,date,metric,value"]
    for d in range(DAYS):
        day = (DAY0 + timedelta(days=d)).date().isoformat()
        rows += [
            f"shop,{day},requests,300",
            f"search,{day},requests,100",
            f"shop,{day},revenue,50",
            f"vm-batch,{day},cpu_utilization,{15 + d}",  # peak 17: downsize
            f"vm-web,{day},cpu_utilization,{40 + d}",  # peak 42: rightsize
        ]
    return rows


@dataclass(frozen=True)
class Platform:
    api: str
    ingest: str
    tokens: dict[str, str]
    batch: dict[str, Any]
    env: dict[str, str]
    postgres: PostgresSettings
    files: Path
    uploads: list[dict[str, Any]]

    def client(self, token: str | None = "admin") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[token]}"} if token else {}
        return httpx.Client(base_url=self.api, headers=headers, timeout=60)

    def sql(self, query: str, *args: Any) -> list[dict[str, Any]]:
        async def run() -> list[dict[str, Any]]:
            conn = await asyncpg.connect(
                self.postgres.database_url,
                server_settings={"search_path": self.postgres.db_schema},
            )
            try:
                return [dict(r) for r in await conn.fetch(query, *args)]
            finally:
                await conn.close()

        return asyncio.run(run())


WINDOW = {
    "start": DAY0.date().isoformat(),
    "end": (DAY0 + timedelta(days=DAYS - 1)).date().isoformat(),
}


async def _prepare(postgres: PostgresSettings, schema: str) -> dict[str, str]:
    conn = await asyncpg.connect(postgres.database_url)
    try:
        await apply_migrations(
            conn, folder=PostgresSettings().migrations_dir, schema=schema
        )
        await conn.execute(f'SET search_path = "{schema}"')
        store = TokenStore(conn)
        made = {}
        for name, scope in (("read", Scope.READ), ("admin", Scope.ADMIN)):
            made[name] = (await store.create(name, [scope]))[0].text
        return made
    finally:
        await conn.close()


async def _drop(url: str, schema: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def _post(url: str, body: bytes, method: str = "POST", *, token: str) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=body, method=method, headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return dict(json.loads(answer.read()))
    except urllib.error.HTTPError as exc:
        return dict(json.loads(exc.read()))


@pytest.fixture(scope="module")
def platform(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    work = tmp_path_factory.mktemp("platform")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    kafka = KafkaSettings(
        bootstrap_servers=infrastructure.bootstrap_servers,
        topic_namespace=f"t{uuid.uuid4().hex[:10]}",
    )
    postgres = PostgresSettings(
        DATABASE_URL=infrastructure.database_url, DATABASE_SCHEMA=schema
    )
    tokens = asyncio.run(_prepare(postgres, schema))
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "KAFKA_TOPIC_NAMESPACE": kafka.topic_namespace,
        "DATABASE_URL": postgres.database_url,
        "DATABASE_SCHEMA": schema,
        "INGEST_SPOOL_DIR": str(work / "spool"),
        "INGEST_DROP_DIR": str(work / "drop"),
    }
    files = work / "files"
    files.mkdir()
    (files / "graph.yaml").write_text(GRAPH)
    (files / "rules.yaml").write_text(RULES)
    lines = [
        HourLine(r, DAY0 + timedelta(hours=h))
        for h in range(24 * DAYS)
        for r in RESOURCES
    ]
    (files / "bill.csv").write_text(render_csv(lines))
    bad = render_csv([HourLine(RESOURCES[3], DAY0), HourLine(RESOURCES[3], DAY0)])
    head, good, broken = bad.splitlines()[:3]
    cells = next(csv.reader([broken]))
    cells[8] = "abc"  # BilledCost
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    (files / "extra.csv").write_text(f"{head}\n{good}\n{out.getvalue()}")
    (files / "usage.csv").write_text("\n".join(_usage_rows()) + "\n")

    allocator = AllocatorProcess(kafka, postgres, work)
    api = ApiProcess(kafka, postgres, work, extra_env={"FINOPS_AUTH_CACHE_S": "0"})
    ingest: Running | None = None
    try:
        api.start()
        with httpx.Client(
            base_url=api.url,
            headers={"Authorization": f"Bearer {tokens['admin']}"},
            timeout=60,
        ) as client:
            applied = client.post(
                "/v1/graph",
                content=GRAPH,
                headers={"Content-Type": "application/yaml"},
            )
        assert applied.status_code == 200, applied.text
        assert applied.json()["published"] is True
        allocator.start()
        ingest = start_service("ingest", "INGEST_", env, work / "ingest.log")
        rules_id = _post(  # ingest needs a token too (rules: admin)
            f"{ingest.url}/rules",
            (files / "rules.yaml").read_bytes(),
            "PUT",
            token=tokens["admin"],
        )["rules_id"]
        uploads = [
            _post(
                f"{ingest.url}/ingests?filename={name}&format={fmt}&rules={rules_id}"
                + (f"&source={source}" if source else ""),
                (files / name).read_bytes(),
                token=tokens["admin"],
            )
            for name, fmt, source in (
                ("bill.csv", "focus", None),
                ("extra.csv", "focus", "extra-export"),
                ("usage.csv", "usage", "usage-file"),
            )
        ]
        finops(
            env,
            "focus",
            "normalize",
            str(files / "bill.csv"),
            str(files / "extra.csv"),
            "--rules",
            str(files / "rules.yaml"),
            "--output",
            str(files / "costs.csv"),
        )
        finops(
            env,
            "allocate",
            "--graph",
            str(files / "graph.yaml"),
            "--costs",
            str(files / "costs.csv"),
            "--usage",
            str(files / "usage.csv"),
            "--output",
            str(files / "batch.json"),
        )
        want = json.loads((files / "batch.json").read_text())
        batch = wait_for_document(postgres, want)
        yield Platform(
            api.url, ingest.url, tokens, batch, env, postgres, files, uploads
        )
    finally:
        if ingest is not None:
            ingest.stop()
        api.stop()
        allocator.stop()
        asyncio.run(_drop(postgres.database_url, schema))


def _m(money: dict[str, str]) -> int:
    return to_micros(money["amount"])


def _bill_totals(files: Path) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for name in ("bill.csv", "extra.csv"):
        with (files / name).open(newline="") as handle:
            for row in csv.DictReader(handle):
                if row["BilledCost"] != "abc":
                    totals[row["ServiceProviderName"]] += to_micros(row["BilledCost"])
    return dict(totals)


def test_uploads_were_taken_and_the_rejected_row_is_named(platform: Platform) -> None:
    assert [u["status"] for u in platform.uploads] == ["succeeded"] * 3
    with platform.client() as admin:
        runs = admin.get("/v1/ingest/runs").json()
        assert runs["total"] == 3 and len(runs["items"]) == 3
        past = admin.get("/v1/ingest/runs", params={"offset": 10}).json()
        assert past["total"] == 3 and past["items"] == []  # the real total, still
        extra = next(r for r in runs["items"] if r["file_name"] == "extra.csv")
        assert extra["rows_rejected"] == 1 and extra["rows_accepted"] == 1
        rejects = admin.get(f"/v1/ingest/runs/{extra['ingest_id']}/rejects").json()
        assert rejects["total"] == 1
        assert rejects["items"][0]["line"] == 3
        assert "BilledCost is not a number" in rejects["items"][0]["reason"]
        missing = admin.get(f"/v1/ingest/runs/{uuid.uuid4()}/rejects")
        assert missing.status_code == 404
    with platform.client("read") as reader:
        assert reader.get("/v1/ingest/runs").status_code == 403


def test_figures_equal_finops_allocate_and_the_bill(platform: Platform) -> None:
    want = platform.batch["summary"]
    with platform.client("read") as client:
        tree = client.get("/v1/products/hierarchy", params=WINDOW).json()
        by_provider = client.get("/v1/costs/by-provider", params=WINDOW).json()
        by_service = client.get("/v1/costs/by-service", params=WINDOW).json()
    assert tree["summary"]["raw_total"]["amount"] == want["raw_total"]
    assert tree["summary"]["unallocated"]["amount"] == want["unallocated"]
    bill = _bill_totals(platform.files)
    assert to_micros(want["raw_total"]) == sum(bill.values())
    got = {i["provider"]: _m(i["cost"]) for i in by_provider["items"]}
    assert got == bill
    services: dict[str, int] = defaultdict(int)
    for item in by_service["items"]:
        services[item["provider"]] += _m(item["cost"])
    assert dict(services) == bill


def test_explain_reaches_the_bill_lines_of_the_uploaded_file(
    platform: Platform,
) -> None:
    day = DAY0.date().isoformat()
    with platform.client("read") as client:
        body = client.get(
            "/v1/explain",
            params={
                "node": "shop",
                "date": day,
                "dimension": "Databases",
                "lines": 100,
            },
        ).json()
    row = next(
        r
        for r in platform.batch["nodes"]
        if (r["node"], r["date"], r["dimension"]) == ("shop", day, "Databases")
    )
    assert body["figures"]["holistic"]["amount"] == row["holistic"]
    # in the Databases dimension only the database's own cost reaches the shop
    assert {(f["from"], f["to"]) for f in body["flows"]} == {("db", "shop")}
    text = json.dumps(body)
    assert "bill.csv" in text
    lines = [
        line
        for lines in _find(body, "bill_lines")
        for line in lines
        if line.get("file", line.get("file_name")) == "bill.csv"
    ]
    assert len(lines) == 24  # the database's hourly lines of the day
    assert sum(_m(line["cost"]) for line in lines) == 24 * 200_000
    assert sorted(line["line"] for line in lines) == sorted(
        2 + 4 * h + 2 for h in range(24)
    )


def _find(value: Any, key: str) -> Iterator[Any]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                yield v
            else:
                yield from _find(v, key)
    elif isinstance(value, list):
        for v in value:
            yield from _find(v, key)


def test_recommendations_and_unit_costs(platform: Platform) -> None:
    with platform.client("read") as client:
        advice = client.get("/v1/recommendations", params=WINDOW).json()
        units = client.get("/v1/unit-costs", params=WINDOW).json()
    sizing = {r["node"]: r for r in advice["rightsizing"]}
    assert sizing["vm-batch"]["kind"] == "downsize"
    assert sizing["vm-web"]["kind"] == "rightsize"
    batch_direct = 72 * 50_000
    assert _m(sizing["vm-batch"]["direct"]) == batch_direct
    # sized for a 70 % peak: 1 - 17/70 of its direct cost, rounded down
    assert _m(sizing["vm-batch"]["estimated_savings"]) == batch_direct * 53 // 70
    assert {i["node"] for i in advice["idle_shared"]} == {"orphan"}
    assert "orphan" in {h["node"] for h in advice["unallocated_hotspots"]}
    holistic: dict[str, int] = defaultdict(int)
    for r in platform.batch["nodes"]:
        holistic[r["node"]] += to_micros(r["holistic"])
    shop = next(i for i in units["items"] if i["product"] == "shop")
    assert _m(shop["holistic"]) == holistic["shop"]
    requests = next(u for u in shop["unit_costs"] if u["metric"] == "requests")
    assert Decimal(requests["units"]) == 900
    per = Decimal(holistic["shop"]) / 1_000_000 / 900
    assert abs(Decimal(requests["cost_per_unit"]["amount"]) - per) < Decimal("1e-9")
    assert _m(shop["revenue"]) == 150_000_000
    assert _m(shop["margin"]) == 150_000_000 - holistic["shop"]
    search = next(i for i in units["items"] if i["product"] == "search")
    assert search["revenue"] is None


def test_allocated_focus_rows_sum_to_the_origin_charges(platform: Platform) -> None:
    with platform.client("read") as client:
        answer = client.get("/v1/export", params={**WINDOW, "type": "allocated"})
        products = client.get(
            "/v1/export", params={**WINDOW, "type": "products", "format": "focus"}
        )
        ledger = client.get("/v1/export", params={**WINDOW, "type": "ledger"})
        parquet = client.get(
            "/v1/export", params={**WINDOW, "type": "ledger", "format": "parquet"}
        )
        wrong = client.get("/v1/export", params={"type": "flows", "format": "focus"})
    assert answer.status_code == 200 and wrong.status_code == 422
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    origin = list(csv.DictReader(io.StringIO(ledger.text)))
    by_line: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        assert row["AllocatedMethodId"] == "finops-graph"
        by_line[(row["x_SourceFile"], row["x_SourceLine"])] += to_micros(
            row["BilledCost"]
        )
    assert by_line == {
        (r["x_SourceFile"], r["x_SourceLine"]): to_micros(r["BilledCost"])
        for r in origin
    }
    # per receiving node, the allocated charges equal the node's retained cost
    retained: dict[str, int] = defaultdict(int)
    for r in platform.batch["nodes"]:
        retained[r["node"]] += to_micros(r["retained"])
    got: dict[str, int] = defaultdict(int)
    for row in rows:
        got[row["AllocatedResourceId"]] += to_micros(row["x_FinopsCost"])
    for node, amount in got.items():
        assert abs(amount - retained[node]) <= 72 * 2, node  # rounding per line
    db_line = next(r for r in rows if r["x_FinopsNode"] == "db")
    assert json.loads(db_line["Tags"]) == {"node": "db"}
    assert json.loads(db_line["AllocatedMethodDetails"])["origin_node"] == "db"
    only = list(csv.DictReader(io.StringIO(products.text)))
    assert {r["AllocatedResourceId"] for r in only} == {"shop", "search"}
    path = platform.files / "ledger.parquet"
    path.write_bytes(parquet.content)
    table = pq.read_table(path)
    assert table.num_rows == len(origin)
    assert str(table.schema.field("BilledCost").type) == "decimal128(24, 6)"


def test_offline_ledger_has_the_lines_the_api_exports(platform: Platform) -> None:
    out = platform.files / "offline-ledger.csv"
    finops(
        platform.env,
        "focus",
        "ledger",
        str(platform.files / "bill.csv"),
        "--rules",
        str(platform.files / "rules.yaml"),
        "--output",
        str(out),
    )
    offline = list(csv.DictReader(io.StringIO(out.read_text())))
    with platform.client("read") as client:
        online = list(
            csv.DictReader(
                io.StringIO(
                    client.get("/v1/export", params={**WINDOW, "type": "ledger"}).text
                )
            )
        )
    mine = [r for r in online if r["x_SourceFile"] == "bill.csv"]
    assert len(offline) == len(mine) == 24 * DAYS * len(RESOURCES)
    key = ("x_SourceLine", "x_FinopsNode", "x_FinopsDimension", "ServiceProviderName")
    assert sorted(
        (*(r[k] for k in key), to_micros(r["BilledCost"])) for r in offline
    ) == sorted((*(r[k] for k in key), to_micros(r["BilledCost"])) for r in mine)


def test_graph_route_gives_the_messages_of_finops_graph_apply(
    platform: Platform,
) -> None:
    cyclic = GRAPH + "  - {from: shop, to: vm-web, strategy: equal}\n"
    path = platform.files / "cyclic.yaml"
    path.write_text(cyclic)
    cli = finops_fails(platform.env, "graph", "apply", str(path))
    with platform.client() as admin:
        answer = admin.post(
            "/v1/graph", content=cyclic, headers={"Content-Type": "application/yaml"}
        )
        same = admin.post("/v1/graph", params={"dry_run": "true"}, content=GRAPH)
        dry = admin.post(
            "/v1/graph",
            params={"dry_run": "true"},
            content=GRAPH.replace("team: search", "team: find"),
        )
        empty = admin.post("/v1/graph", content=b"")
    with platform.client("read") as reader:
        refused = reader.post("/v1/graph", content=GRAPH)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_graph"
    assert error["message"].replace("body", "") in cli.replace(str(path), "")
    assert same.json()["changes"] == {
        "nodes_upserted": 0,
        "nodes_removed": 0,
        "edges_upserted": 0,
        "edges_removed": 0,
    }
    assert dry.json()["changes"]["nodes_upserted"] == 1
    assert dry.json()["published"] is False
    assert empty.status_code == 422 and refused.status_code == 403


def finops_fails(env: dict[str, str], *args: str) -> str:
    from tests.support.cli import run_finops

    done = run_finops(*args, env=env)
    assert done.returncode != 0
    return done.stderr


GOVERNANCE = """budgets:
  - id: shop-month
    name: Shop
    amount: "100.00"
    currency: USD
    period: month
    scope: {node: shop}
    thresholds: [{percent: 80, basis: actual}]
actions:
  - id: stop-web
    budget: shop-month
    on: {percent: 80, basis: actual}
    shutdown: {resources: [/r/vm-web]}
    executor:
      url: http://127.0.0.1:9/deallocate
      secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
    approval: manual
"""


def test_budgets_actions_and_deliveries(platform: Platform) -> None:
    with platform.client() as admin:
        dry = admin.put("/v1/budgets", params={"dry_run": "true"}, content=GOVERNANCE)
        applied = admin.put("/v1/budgets", content=GOVERNANCE)
        again = admin.put("/v1/budgets", content=GOVERNANCE)
        unknown = admin.put(
            "/v1/budgets", content=GOVERNANCE.replace("{node: shop}", "{node: nope}")
        )
        bad = admin.put("/v1/budgets", content=GOVERNANCE.replace('"100.00"', '"-1"'))
        listed = admin.get("/v1/budgets").json()
    assert dry.json() == {
        "dry_run": True,
        "valid": True,
        "budgets": 1,
        "webhooks": 0,
        "actions": 1,
    }
    assert applied.status_code == 200
    assert applied.json()["added"] == {
        "budget": ["shop-month"],
        "webhook": [],
        "action": ["stop-web"],
    }
    assert again.json()["version"] is None
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"]["line"] == 7
    assert "unknown node 'nope'" in unknown.json()["error"]["message"]
    assert bad.status_code == 422 and bad.json()["error"]["details"]["line"] == 4
    assert listed["total"] == 1 and listed["items"][0]["id"] == "shop-month"
    assert "secret" not in json.dumps(listed)

    run_id = uuid.uuid4()
    platform.sql(
        "INSERT INTO action_runs (run_id, action_id, alert_id, state, resources) "
        "VALUES ($1, 'stop-web', $2, 'pending_approval', $3::jsonb)",
        run_id,
        uuid.uuid4(),
        json.dumps([{"ResourceId": "/r/vm-web"}]),
    )
    with platform.client() as admin:
        preview = admin.post(f"/v1/actions/{run_id}/approve?dry_run=true").json()
        approved = admin.post(f"/v1/actions/{run_id}/approve")
        twice = admin.post(f"/v1/actions/{run_id}/approve")
        reverse = admin.post(f"/v1/actions/{run_id}/reverse")
        nobody = admin.post(f"/v1/actions/{uuid.uuid4()}/approve")
        runs = admin.get("/v1/actions").json()
        trail = admin.get(f"/v1/actions/{run_id}").json()
        deliveries = admin.get("/v1/webhooks/deliveries").json()
        first = deliveries["items"][0]
        resent = admin.post(f"/v1/webhooks/deliveries/{first['delivery_id']}/redeliver")
        gone = admin.post("/v1/webhooks/deliveries/999999/redeliver")
    with platform.client("read") as reader:
        forbidden = reader.post(f"/v1/actions/{run_id}/reverse")
        alerts = reader.get("/v1/alerts").json()
    assert preview["would_become"] == "executing" and preview["dry_run"] is True
    assert approved.status_code == 200 and approved.json()["state"] == "executing"
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "conflict"
    assert reverse.status_code == 409
    assert nobody.status_code == 404 and forbidden.status_code == 403
    assert runs["total"] == 1 and runs["items"][0]["state"] == "executing"
    assert [a["event"] for a in trail["audit"]] == ["approved"]
    assert trail["audit"][0]["actor"] == "api:admin"
    assert deliveries["total"] == 1 and first["event_type"] == "action.execute"
    assert resent.status_code == 200 and resent.json()["status"] == "pending"
    assert gone.status_code == 404
    assert alerts == {"total": 0, "limit": 100, "offset": 0, "items": []}


def test_fuzzing_the_admin_routes_finds_no_server_error(platform: Platform) -> None:
    """schemathesis against every operation with an admin token (the write routes
    included); last in this module, as a fuzzed graph or governance file may apply."""
    schema = schemathesis.openapi.from_url(f"{platform.api}/openapi.json")
    headers = {"Authorization": f"Bearer {platform.tokens['admin']}"}
    checks = [not_a_server_error, content_type_conformance]
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    writes = [o for o in operations if o.method.upper() != "GET"]
    assert len(writes) >= 5
    reads = [o for o in operations if "/ingest/" in o.path or "/actions" in o.path]
    for operation in [*reads, *writes]:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=checks)

        run()
