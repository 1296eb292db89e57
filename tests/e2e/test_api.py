"""The query API as a process over results the real allocator stored from a known
case; every figure checked against `finops allocate` on the same files."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)
from schemathesis.core.result import Ok

from finops.adapters.input_feed import publish_files
from finops.adapters.migrations import apply_migrations
from finops.adapters.token_store import TokenStore
from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops.domain.access import Scope
from finops.domain.money import to_micros
from tests.support.allocator_process import AllocatorProcess
from tests.support.api_process import ApiProcess
from tests.support.infrastructure import Infrastructure
from tests.support.stream_checks import (
    batch_document,
    finops,
    make_org,
    wait_for_document,
)

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Served:
    """The api over stored results, the batch document and tokens of each kind."""

    url: str
    batch: dict[str, Any]
    products: set[str]
    tokens: dict[str, str]
    first: date
    last: date
    env: dict[str, str]

    def client(self, token: str | None = "read") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[token]}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


async def _schema(url: str, schema: str, drop: bool = False) -> None:
    conn = await asyncpg.connect(url)
    try:
        if drop:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        else:
            folder = PostgresSettings().migrations_dir
            await apply_migrations(conn, folder=folder, schema=schema)
    finally:
        await conn.close()


async def _tokens(postgres: PostgresSettings) -> tuple[dict[str, str], set[str]]:
    conn = await asyncpg.connect(
        postgres.database_url, server_settings={"search_path": postgres.db_schema}
    )
    try:
        store = TokenStore(conn)
        made = {}
        for name, scope in (("read", Scope.READ), ("admin", Scope.ADMIN)):
            made[name] = (await store.create(name, [scope]))[0].text
        made["ingest"] = (await store.create("ingest", [Scope.INGEST]))[0].text
        revoked, _ = await store.create("gone", [Scope.READ])
        await store.revoke(revoked.token_id)
        made["revoked"] = revoked.text
        rows = await conn.fetch(
            "SELECT node_id FROM cost_nodes WHERE node_type = 'product'"
        )
    finally:
        await conn.close()
    return made, {r["node_id"] for r in rows}


@pytest.fixture(scope="module")
def served(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    work = tmp_path_factory.mktemp("api")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    kafka = KafkaSettings(
        bootstrap_servers=infrastructure.bootstrap_servers,
        topic_namespace=f"t{uuid.uuid4().hex[:10]}",
    )
    postgres = PostgresSettings(
        DATABASE_URL=infrastructure.database_url, DATABASE_SCHEMA=schema
    )
    asyncio.run(_schema(postgres.database_url, schema))
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "KAFKA_TOPIC_NAMESPACE": kafka.topic_namespace,
        "DATABASE_URL": postgres.database_url,
        "DATABASE_SCHEMA": schema,
    }
    org = make_org(work / "org", days=6, seed=11)
    finops(env, "graph", "apply", str(org / "graph.json"))
    allocator = AllocatorProcess(kafka, postgres, work)
    api = ApiProcess(kafka, postgres, work, extra_env={"FINOPS_AUTH_CACHE_S": "0"})
    try:
        allocator.start()
        asyncio.run(
            publish_files(
                kafka, costs=org / "costs.csv", usage=org / "usage.csv", known=None
            )
        )
        batch = wait_for_document(postgres, batch_document(env, org, work / "b.json"))
        tokens, products = asyncio.run(_tokens(postgres))
        api.start()
        days = sorted({date.fromisoformat(n["date"]) for n in batch["nodes"]})
        yield Served(api.url, batch, products, tokens, days[0], days[-1], env)
    finally:
        api.stop()
        allocator.stop()
        asyncio.run(_schema(postgres.database_url, schema, drop=True))


def _all_days(served: Served) -> dict[str, str]:
    return {"start": served.first.isoformat(), "end": served.last.isoformat()}


def _micros(money: dict[str, str]) -> int:
    assert money["currency"] == "USD"
    return to_micros(money["amount"])


def _batch_sums(served: Served, figure: str) -> dict[str, int]:
    sums: dict[str, int] = defaultdict(int)
    for row in served.batch["nodes"]:
        sums[row["node"]] += to_micros(row[figure])
    return sums


def test_every_read_route_needs_a_valid_token_with_read_scope(served: Served) -> None:
    routes = [
        "/v1/products",
        "/v1/products/hierarchy",
        "/v1/nodes",
        "/v1/reconciliation",
    ]
    for route in routes:
        with served.client(None) as anonymous:
            answer = anonymous.get(route)
            assert answer.status_code == 401, route
            assert answer.json()["error"]["code"] == "unauthorized"
        with served.client("revoked") as revoked:
            answer = revoked.get(route)
            assert answer.status_code == 401
            assert "revoked or expired" in answer.json()["error"]["message"]
        with served.client("ingest") as ingest_only:
            answer = ingest_only.get(route)
            assert answer.status_code == 403
            assert answer.json()["error"]["code"] == "forbidden"
        with served.client("admin") as admin:
            assert admin.get(route).status_code == 200
    with served.client(None) as anonymous:
        assert anonymous.get("/healthz").status_code == 200


def test_hierarchy_summary_and_products_equal_finops_allocate(served: Served) -> None:
    with served.client() as client:
        answer = client.get(
            "/v1/products/hierarchy", params={**_all_days(served), "limit": 1000}
        )
    assert answer.status_code == 200
    body = answer.json()
    want = served.batch["summary"]
    summary = body["summary"]
    assert summary["raw_total"]["amount"] == want["raw_total"]
    assert summary["allocated_to_products"]["amount"] == want["allocated_to_products"]
    assert summary["unallocated"]["amount"] == want["unallocated"]
    assert body["unallocated"]["retained"]["amount"] == want["unallocated"]
    assert body["total"] == len(served.products) == len(body["items"])
    holistic = _batch_sums(served, "holistic")
    direct = _batch_sums(served, "direct")
    indirect = _batch_sums(served, "indirect")
    for item in body["items"]:
        assert _micros(item["holistic"]) == holistic[item["id"]]
        assert _micros(item["direct"]) == direct[item["id"]]
        assert _micros(item["shared_services"]) == indirect[item["id"]]
    ranked = [_micros(i["holistic"]) for i in body["items"]]
    assert ranked == sorted(ranked, reverse=True)
    flows_in: dict[tuple[str, str], int] = defaultdict(int)
    for flow in served.batch["flows"]:
        flows_in[(flow["from"], flow["to"])] += to_micros(flow["amount"])
    for item in body["items"]:
        for parent in item["upstream"]:
            got = _micros(parent["edge_amount"])
            assert got == flows_in[(parent["id"], item["id"])]


def test_pages_have_the_real_total(served: Served) -> None:
    nodes = {n["node"] for n in served.batch["nodes"]}
    with served.client() as client:
        first = client.get("/v1/nodes", params={**_all_days(served), "limit": 7}).json()
        rest = client.get(
            "/v1/nodes", params={**_all_days(served), "limit": 1000, "offset": 7}
        ).json()
        beyond = client.get("/v1/nodes", params={"offset": 5000}).json()
        products = client.get("/v1/nodes", params={"type": "product"}).json()
    assert first["total"] == rest["total"] == beyond["total"] >= len(nodes)
    assert len(first["items"]) == 7 and beyond["items"] == []
    ids = [n["id"] for n in first["items"] + rest["items"]]
    assert ids == sorted(ids) and len(ids) == first["total"]
    assert {n["id"] for n in products["items"]} == served.products
    retained = _batch_sums(served, "retained")
    for item in first["items"] + rest["items"]:
        assert _micros(item["costs"]["retained"]) == retained.get(item["id"], 0)


def test_node_detail_orients_flows_and_matches_the_batch(served: Served) -> None:
    flows = served.batch["flows"]
    busiest = max({f["from"] for f in flows} & {f["to"] for f in flows}, key=str)
    with served.client() as client:
        body = client.get(f"/v1/nodes/{busiest}", params=_all_days(served)).json()
    incoming: dict[str, int] = defaultdict(int)
    outgoing: dict[str, int] = defaultdict(int)
    for f in flows:
        if f["to"] == busiest:
            incoming[f["from"]] += to_micros(f["amount"])
        if f["from"] == busiest:
            outgoing[f["to"]] += to_micros(f["amount"])
    got_in = {f["from"]: _micros(f["amount"]) for f in body["flows"]["incoming"]}
    got_out = {f["to"]: _micros(f["amount"]) for f in body["flows"]["outgoing"]}
    assert all(f["to"] == busiest for f in body["flows"]["incoming"])
    assert all(f["from"] == busiest for f in body["flows"]["outgoing"])
    assert got_in == {k: v for k, v in incoming.items() if v or k in got_in}
    assert got_out == {k: v for k, v in outgoing.items() if v or k in got_out}
    assert _micros(body["costs"]["indirect"]) == sum(incoming.values())
    assert _micros(body["costs"]["allocated_out"]) == sum(outgoing.values())
    assert {p["node"] for p in body["parents"]} >= set(got_in)
    assert all(p["strategy"] for p in body["parents"] + body["children"])


def test_timeseries_is_sorted_with_gaps_explicit(served: Served) -> None:
    node = served.batch["nodes"][0]["node"]
    start = served.first - timedelta(days=2)
    with served.client() as client:
        body = client.get(
            f"/v1/nodes/{node}/timeseries",
            params={"start": start.isoformat(), "end": served.last.isoformat()},
        ).json()
    dims = body["dimensions"]
    days = (served.last - start).days + 1
    assert len(body["costs"]) == days * len(dims)
    keys = [(c["date"], c["dimension"]) for c in body["costs"]]
    assert keys == sorted(keys)
    early = [c for c in body["costs"] if c["date"] < served.first.isoformat()]
    assert early and all(c["holistic"] is None and not c["stored_day"] for c in early)
    want = {
        (r["date"], r["dimension"]): r["holistic"]
        for r in served.batch["nodes"]
        if r["node"] == node
    }
    for cell in body["costs"]:
        if (cell["date"], cell["dimension"]) in want:
            assert cell["holistic"]["amount"] == want[(cell["date"], cell["dimension"])]


def test_by_type_sums_retained_to_the_raw_total_and_reconciliation_holds(
    served: Served,
) -> None:
    with served.client() as client:
        kinds = client.get("/v1/costs/by-type", params=_all_days(served)).json()
        check = client.get("/v1/reconciliation", params=_all_days(served)).json()
        board = client.get("/v1/dashboard/summary", params=_all_days(served)).json()
    raw = to_micros(served.batch["summary"]["raw_total"])
    assert kinds["quantity"] == "retained"
    assert sum(_micros(i["retained"]) for i in kinds["items"]) == raw
    assert sum(_micros(i["direct"]) for i in kinds["items"]) == raw
    assert check["ok"] is True and check["broken_nodes"] == []
    assert sum(_micros(d["raw_total"]) for d in check["days"]) == raw
    assert len(check["days"]) == (served.last - served.first).days + 1
    assert check["graph"]["version"] >= 1
    assert (
        board["summary"]["raw_total"]["amount"] == served.batch["summary"]["raw_total"]
    )


def test_explain_follows_the_flows_of_the_day(served: Served) -> None:
    row = max(
        (r for r in served.batch["nodes"] if r["node"] in served.products),
        key=lambda r: to_micros(r["indirect"]),
    )
    with served.client() as client:
        body = client.get(
            "/v1/explain",
            params={
                "node": row["node"],
                "date": row["date"],
                "dimension": row["dimension"],
            },
        ).json()
    assert body["figures"]["holistic"]["amount"] == row["holistic"]
    into = [f for f in body["flows"] if f["to"] == row["node"]]
    assert sum(_micros(f["amount"]) for f in into) == to_micros(row["indirect"])
    want = {
        (f["from"], f["to"]): f["amount"]
        for f in served.batch["flows"]
        if f["date"] == row["date"] and f["dimension"] == row["dimension"]
    }
    for flow in body["flows"]:
        assert flow["amount"]["amount"] == want[(flow["from"], flow["to"])]
    for node, shown in body["nodes"].items():
        direct = next(
            (
                r["direct"]
                for r in served.batch["nodes"]
                if (r["node"], r["date"], r["dimension"])
                == (node, row["date"], row["dimension"])
            ),
            "0.000000",
        )
        assert shown["direct"]["amount"] == direct


def test_etag_gzip_and_errors(served: Served) -> None:
    with served.client() as client:
        first = client.get("/v1/products/hierarchy", params=_all_days(served))
        assert first.headers["content-encoding"] == "gzip"
        again = client.get(
            "/v1/products/hierarchy",
            params=_all_days(served),
            headers={"If-None-Match": first.headers["etag"]},
        )
        assert again.status_code == 304 and again.content == b""
        cases = {
            "/v1/products?start=2025-02-10&end=2025-02-01": "start",
            "/v1/products?start=not-a-date": "start",
            "/v1/products?currency=EUR": "currency",
            "/v1/products?limit=0": "limit",
            "/v1/products?start=1900-01-01": "start",
            "/v1/nodes?type=galaxy": "type",
            "/v1/costs/by-label": "key",
            "/v1/explain?node=x&date=2025-01-01": "dimension",
        }
        for url, field in cases.items():
            answer = client.get(url)
            assert answer.status_code == 422, url
            error = answer.json()["error"]
            assert error["code"] == "invalid_request" and field in error["message"], url
        missing = client.get("/v1/nodes/no-such-node")
        assert missing.status_code == 404
        assert missing.json()["error"] == {
            "code": "not_found",
            "message": "no node 'no-such-node'",
            "details": {"node": "no-such-node"},
        }


def test_node_export_streams_the_batch_rows_and_the_command_writes_the_same(
    served: Served, tmp_path: Path
) -> None:
    params = {**_all_days(served), "type": "nodes"}
    with served.client() as client:
        answer = client.get("/v1/export", params=params)
        assert client.get("/v1/export", params={"type": "nope"}).status_code == 422
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    got = {(r["node"], r["date"], r["dimension"]): r["retained"] for r in rows}
    want = {
        (r["node"], r["date"], r["dimension"]): r["retained"]
        for r in served.batch["nodes"]
    }
    assert got == want
    out = tmp_path / "nodes.csv"
    done = finops(
        served.env,
        "export",
        "nodes",
        "--output",
        str(out),
        "--start",
        params["start"],
        "--end",
        params["end"],
    )
    assert f"{len(rows)} rows" in done.stdout
    assert out.read_text() == answer.text


def test_fuzzing_the_openapi_document_finds_no_server_error(served: Served) -> None:
    """schemathesis draws requests from /openapi.json for every operation; no answer
    may be a 5xx or break the document (content type, response schema)."""
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    headers = {"Authorization": f"Bearer {served.tokens['read']}"}
    checks = [not_a_server_error, content_type_conformance, response_schema_conformance]
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) >= 14

    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=40,
            deadline=None,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=checks)

        run()


def _string_parameters(document: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(path, where, name) of every string parameter of every GET operation."""
    for path, operations in document["paths"].items():
        for param in operations.get("get", {}).get("parameters", []):
            schema = param.get("schema", {})
            kinds = [schema, *schema.get("anyOf", []), schema.get("items", {})]
            if any(kind.get("type") == "string" for kind in kinds):
                yield path, param["in"], param["name"]


def test_a_control_character_in_any_parameter_is_refused_naming_it(
    served: Served,
) -> None:
    """PostgreSQL text cannot hold NUL; a fuzzed `budget=\\x00` once gave a 500.
    Every string parameter of every GET route is tried with NUL and with U+001F."""
    with served.client("admin") as client:
        document = client.get("/openapi.json").json()
        tried = 0
        for path, where, name in _string_parameters(document):
            for bad in ("a\x00b", "a\x1fb"):
                params = {name: bad} if where == "query" else {}
                url = path.replace(f"{{{name}}}", quote(bad))
                answer = client.get(re.sub(r"\{[^}]+\}", "1", url), params=params)
                assert answer.status_code == 422, (path, name, answer.text)
                error = answer.json()["error"]
                assert error["code"] == "invalid_request"
                assert f"{where}.{name}" in error["message"], (path, name)
                tried += 1
    assert tried >= 20
