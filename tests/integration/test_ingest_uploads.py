"""Uploads through the ingest service against the real broker and database."""

from __future__ import annotations

import asyncio
import csv
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import asyncpg
import httpx
import pyarrow as pa
import pytest

from finops.contracts.events import NodeCostsReported, RowRejected, UsageReported
from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops.contracts.topics import COST_LINES, NODE_COSTS, USAGE, dead_letter_of
from finops.domain.focus.mapping import load_rules
from finops.domain.focus.offline import normalize_paths
from finops.domain.records import UsageRecord
from ingest.writer import IngestWriter
from tests.support.ingest_helpers import ingest_client, ingest_settings, read_topic

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "focus"
SAMPLE = ROOT.parent / "shared" / "data" / "focus-1.0-sample" / "focus_sample.csv"
SAMPLE_RULES = ROOT / "examples" / "rules" / "focus_sample.yaml"


@pytest.fixture
async def client(
    kafka_settings: KafkaSettings, postgres_settings: PostgresSettings, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ingest_settings(
        kafka_settings, postgres_settings, tmp_path, consume_cost_lines=False
    )
    async with ingest_client(settings) as http:
        yield http


async def _upload(
    client: httpx.AsyncClient, path: Path, **params: str
) -> httpx.Response:
    query = {"filename": path.name, **params}
    return await client.post("/ingests", params=query, content=path.read_bytes())


async def _rules(client: httpx.AsyncClient, path: Path) -> str:
    response = await client.put("/rules", content=path.read_bytes())
    assert response.status_code == 200, response.text
    return str(response.json()["rules_id"])


def _normalized(path: Path, rules: Path) -> dict[tuple[str, str, str], int]:
    """Node costs of `finops focus normalize` (the unit tests check them against an
    independent Decimal sum, rounded once per node, day and dimension)."""
    costs = normalize_paths([path], load_rules(rules)).costs.to_pylist()
    return {
        (r["node"], r["date"].isoformat(), r["dimension"]): r["amount_micros"]
        for r in costs
    }


def _exact_totals(path: Path) -> dict[str, Decimal]:
    """Per provider, the exact sum of BilledCost rounded once (the reported totals,
    issue 16: AWS 18.006639 = 18.0066386184 rounded; lines rounded first 18.006628)."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    with path.open(newline="", encoding="utf-8-sig") as data:
        for row in csv.DictReader(data):
            totals[row["ProviderName"]] += Decimal(row["BilledCost"])
    micro = Decimal("0.000001")
    return {k: v.quantize(micro, ROUND_HALF_EVEN) for k, v in totals.items()}


def _count_credits(path: Path) -> int:
    """Lines whose BilledCost is negative after rounding to micro-units."""
    with path.open(newline="", encoding="utf-8-sig") as data:
        return sum(
            Decimal(r["BilledCost"]).quantize(Decimal("0.000001"), ROUND_HALF_EVEN) < 0
            for r in csv.DictReader(data)
        )


async def test_focus_sample_upload_counts_totals_credits_and_events(
    client: httpx.AsyncClient, kafka_settings: KafkaSettings, db: asyncpg.Connection
) -> None:
    rules_id = await _rules(client, SAMPLE_RULES)
    response = await _upload(client, SAMPLE, format="focus", rules=rules_id)
    assert response.status_code == 201, response.text
    result = response.json()
    assert (result["rows_read"], result["rows_accepted"], result["rows_rejected"]) == (
        1000,
        1000,
        0,
    )
    totals = {k: Decimal(v) for k, v in result["provider_totals"].items()}
    assert totals == _exact_totals(SAMPLE)
    assert totals["AWS"] == Decimal("18.006639")
    credits = await db.fetch("SELECT line, cost FROM cost_lines WHERE billed_cost < 0")
    assert len(credits) == _count_credits(SAMPLE) and all(
        c["cost"] < 0 for c in credits
    )
    assert await db.fetchval("SELECT count(*) FROM cost_lines") == 1000
    assert (await client.get(f"/ingests/{result['ingest_id']}")).json() == result
    pairs = await db.fetch(
        "SELECT DISTINCT source, charge_date FROM node_costs_by_dimension"
    )
    events = await read_topic(kafka_settings, NODE_COSTS, count=len(pairs))
    reported = [(k, e) for k, e in events if isinstance(e, NodeCostsReported)]
    assert len(reported) == len(events)
    costs = [(k, c) for k, e in reported for c in e.costs]
    assert all(key == c.date.isoformat().encode() for key, c in costs)
    stream = {
        (c.node, c.date.isoformat(), c.dimension): c.amount_micros for _, c in costs
    }
    assert stream == _normalized(SAMPLE, SAMPLE_RULES)
    assert sum(stream.values()) == 20_520_225  # rounded once per node and day
    assert any(c.amount_micros < 0 for _, c in costs)


async def test_a_node_cost_traces_back_to_its_lines(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rules_id = await _rules(client, SAMPLE_RULES)
    await _upload(client, SAMPLE, format="focus", rules=rules_id)
    cost = await db.fetchrow(
        "SELECT node_id, charge_date, dimension, amount FROM node_costs_by_dimension "
        "WHERE node_id = 'shared_databases' ORDER BY charge_date LIMIT 1"
    )
    assert cost is not None
    params = {
        "node": cost["node_id"],
        "date": cost["charge_date"].isoformat(),
        "dimension": cost["dimension"],
    }
    traced = (await client.get("/trace", params=params)).json()
    assert traced and {t["node"] for t in traced} == {"shared_databases"}
    # hourly lines: their exact costs (micro-units and the pico-units below)
    # add up to the node cost, rounded once
    exact = await db.fetchval(
        "SELECT sum(cost + cost_picos * 0.000000000001) FROM cost_lines "
        "WHERE node = $1 AND charge_period_start >= $2::date "
        "AND charge_period_start < $2::date + 1 AND dimension = $3",
        cost["node_id"],
        cost["charge_date"],
        cost["dimension"],
    )
    assert len(traced) == await db.fetchval(
        "SELECT count(*) FROM cost_lines WHERE node = $1 AND dimension = $3 "
        "AND charge_period_start >= $2::date AND charge_period_start < $2::date + 1",
        cost["node_id"],
        cost["charge_date"],
        cost["dimension"],
    )
    assert exact.quantize(Decimal("0.000001"), ROUND_HALF_EVEN) == cost["amount"]
    assert {t["file_name"] for t in traced} == {"focus_sample.csv"}


async def test_rejected_rows_go_to_the_dead_letter_topic_and_good_rows_pass(
    client: httpx.AsyncClient, kafka_settings: KafkaSettings
) -> None:
    result = (await _upload(client, DATA / "bad_rows.csv", format="focus")).json()
    assert result["rows_rejected"] > 0 and result["rows_accepted"] > 0
    report = (await client.get(f"/ingests/{result['ingest_id']}/rejects")).json()
    assert len(report) == result["rows_rejected"]
    assert all(r["file"] == "bad_rows.csv" and r["line"] >= 2 for r in report)
    assert any("BilledCost is not a number" in r["reason"] for r in report)
    dead = await read_topic(
        kafka_settings, dead_letter_of(COST_LINES), count=len(report)
    )
    letters = [e for _, e in dead if isinstance(e, RowRejected)]
    assert [(e.source, e.line, e.reason) for e in letters] == [
        (r["file"], r["line"], r["reason"]) for r in report
    ]
    as_csv = await client.get(
        f"/ingests/{result['ingest_id']}/rejects", params={"csv": "true"}
    )
    assert as_csv.text.splitlines()[0] == "file,line,reason"


async def test_usage_upload_publishes_usage_keyed_by_date(
    client: httpx.AsyncClient, kafka_settings: KafkaSettings
) -> None:
    result = (
        await _upload(client, DATA / "usage.csv", format="usage", source="metrics")
    ).json()
    assert result["status"] == "succeeded" and result["rows_accepted"] > 0
    dates = {r.date for r in await _usage_rows(DATA / "usage.csv")}
    events = await read_topic(kafka_settings, USAGE, count=len(dates))
    assert {k for k, _ in events} == {d.isoformat().encode() for d in dates}
    assert all(isinstance(e, UsageReported) and e.replaces for _, e in events)


async def _usage_rows(path: Path) -> list[UsageRecord]:
    from finops.domain.focus.usage import read_usage

    return list(read_usage(path)[0])


def _variants(tmp: Path) -> list[Path]:
    """The FOCUS 1.3 fixture as plain CSV, gzip CSV and Parquet."""
    import gzip

    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    plain = DATA / "focus_1_3.csv"
    zipped = tmp / "focus_1_3.csv.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    table = pcsv.read_csv(
        plain,
        convert_options=pcsv.ConvertOptions(
            column_types={"BilledCost": "string", "EffectiveCost": "string"}
        ),
    )
    parquet = tmp / "focus_1_3.parquet"
    pq.write_table(table, parquet)
    return [plain, zipped, parquet]


async def test_csv_gzip_and_parquet_uploads_agree(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    results = [
        (await _upload(client, path, format="auto", source=path.name)).json()
        for path in _variants(tmp_path)
    ]
    assert {r["status"] for r in results} == {"succeeded"}
    counts = {(r["rows_read"], r["rows_accepted"]) for r in results}
    assert len(counts) == 1 and next(iter(counts))[1] > 0
    assert len({json.dumps(r["provider_totals"]) for r in results}) == 1


async def test_provider_csv_is_mapped_through_its_profile(
    client: httpx.AsyncClient,
) -> None:
    result = (await _upload(client, DATA / "aws.csv", format="focus")).json()
    assert result["status"] == "succeeded" and result["layout"].startswith(
        "provider CSV"
    )
    assert list(result["provider_totals"]) == ["AWS"]


async def test_usage_rules_are_the_same_online_as_offline(
    client: httpx.AsyncClient, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """Repeated rows are summed (they gave HTTP 500), negative usage is refused
    (it was accepted, giving shares of -100 % and +200 %)."""
    path = tmp_path / "usage.csv"
    path.write_text(
        "node,date,metric,value\n"
        "shop,2025-03-01,req,1\nshop,2025-03-01,req,2\n"
        "blog,2025-03-01,req,-4\nblog,2025-03-01,req,5\n"
    )
    response = await _upload(client, path, format="usage", source="metrics")
    assert response.status_code == 201, response.text
    result = response.json()
    assert (result["rows_accepted"], result["rows_rejected"]) == (3, 1)
    report = (await client.get(f"/ingests/{result['ingest_id']}/rejects")).json()
    assert [(r["line"], r["reason"]) for r in report] == [
        (4, "value is negative: '-4'")
    ]
    stored = await db.fetch(
        "SELECT node_id, value FROM node_usage_by_dimension ORDER BY node_id"
    )
    assert [(r["node_id"], r["value"]) for r in stored] == [
        ("blog", 5.0),
        ("shop", 3.0),
    ]


async def test_concurrent_first_uploads_of_a_month_all_succeed(
    client: httpx.AsyncClient, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """They raced to create the month's partition: HTTP 500, `relation
    "cost_lines_y2025m10" already exists`."""
    paths = []
    for i in range(4):
        path = tmp_path / f"team{i}.csv"
        path.write_text(f"node,date,dimension,amount\nn{i},2031-07-0{i + 1},c,1.5\n")
        paths.append(path)
    responses = await asyncio.gather(
        *(_upload(client, p, format="node-costs", source=p.stem) for p in paths)
    )
    assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
    stored = await db.fetchval(
        "SELECT count(*) FROM cost_lines_y2031m07 WHERE cost = 1.5"
    )
    assert stored == 4


@pytest.mark.parametrize(
    ("method", "url", "params", "field"),
    [
        ("POST", "/ingests", {"filename": "x" * 256 + ".csv"}, "filename"),
        ("POST", "/ingests", {"filename": "a.csv", "source": "a\x1fb"}, "source"),
        ("GET", f"/ingests/{uuid.uuid4()}/lines", {"limit": "-1"}, "limit"),
        ("GET", f"/ingests/{uuid.uuid4()}/lines", {"offset": "-5"}, "offset"),
        ("GET", f"/ingests/{uuid.uuid4()}/lines", {"limit": "1000000"}, "limit"),
    ],
)
async def test_bad_parameters_are_4xx_naming_the_parameter(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    params: dict[str, str],
    field: str,
) -> None:
    response = await client.request(method, url, params=params, content=b"x")
    assert response.status_code == 422, response.text
    assert field in response.text


async def test_a_refused_file_is_named_as_the_client_sent_it(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    path = tmp_path / "team-costs.csv"
    path.write_text("node,date,amount\na,2025-03-01,1\n")
    result = (await _upload(client, path, format="node-costs")).json()
    assert result["status"] == "refused"
    assert result["error"].startswith("team-costs.csv: not a node-costs file")
    assert "spool" not in result["error"] and str(tmp_path) not in result["error"]


async def test_node_costs_add_exact_parts_and_round_once_in_the_store(
    db: asyncpg.Connection,
) -> None:
    """Batches (or messages) of one delivery add exact parts to a node cost; its
    amount is their sum rounded half to even once (migration 0042)."""
    day = date(2024, 9, 1)

    def units(micros: int, picos: int) -> pa.Table:
        return pa.table(
            {
                "source": ["s"],
                "period": pa.array([day], pa.date32()),
                "node": ["n"],
                "date": pa.array([day], pa.date32()),
                "dimension": ["c"],
                "amount_micros": pa.array([micros], pa.int64()),
                "amount_picos": pa.array([picos], pa.int64()),
            }
        )

    async def amount() -> Decimal:
        found: Decimal = await db.fetchval(
            "SELECT amount FROM node_costs_by_dimension WHERE source = 's/x'"
        )
        return found

    writer = IngestWriter(db)
    await writer.add_node_costs("s/x", units(0, 400_000))  # 0.0000004
    assert await amount() == Decimal("0.000000")
    await writer.add_node_costs("s/x", units(0, 400_000))  # 0.0000008
    assert await amount() == Decimal("0.000001")
    await writer.add_node_costs("s/x", units(0, 700_000))  # 0.0000015: to even
    assert await amount() == Decimal("0.000002")
    await writer.add_node_costs("s/x", units(-3, 0))  # -0.0000015: to even
    assert await amount() == Decimal("-0.000002")
    await writer.add_node_costs("s/x", units(10**18, 0))  # 10^12 units, exact
    assert await amount() == Decimal("999999999999.999998")
