"""The fault campaign (issue 16): ingest and the allocator (and, where its topics are
poisoned, governance) as processes on a broker and a database of their own, which the
scenarios stop and start. Each scenario feeds a known organisation through ingest (as
`finops ingest` does), injects its fault, recovers, and asserts that

- the stored results equal `finops allocate` on the same files to the micro-unit;
- nothing was counted twice: the node costs ingest holds equal the files' sum to the
  micro-unit, its usage rows are the files' rows, no delivery is in force twice and no
  outbox entry waits (a replayed event is a set, never an add, so the results alone
  would not show an event taken twice by ingest);
- /healthz said what was broken while it was (503 and the reason).

Recovery times are printed at the end (`-s` shows them); docs/architecture.md keeps
three runs' figures."""

from __future__ import annotations

import asyncio
import csv
import json
import signal
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from finops.adapters.input_feed import cost_events, cost_records, publish_events
from finops.adapters.migrations import migrate_database
from finops.contracts.codec import decode_event, encode_event
from finops.contracts.events import MessageRejected, NodeCostsReported
from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops.contracts.topics import (
    ALLOCATIONS,
    ALLOCATOR_INPUTS,
    COST_LINES,
    GRAPH,
    NODE_COSTS,
    USAGE,
    TopicSpec,
    dead_letter_of,
    topic_name,
)
from finops.domain.records import NodeCost
from finops.formats.costfile import load_costs
from tests.support.allocator_process import AllocatorProcess
from tests.support.cli import finops, run_finops
from tests.support.deadline import Deadline
from tests.support.fault_stack import FaultStack, fault_stack
from tests.support.half_upload import HalfUpload
from tests.support.service_process import Running, start_service
from tests.support.stream_checks import (
    batch_document,
    differences,
    edit_csv,
    make_org,
)
from tests.support.tokens import create_token

pytestmark = pytest.mark.e2e
RECOVERY: dict[str, float] = {}  # scenario -> seconds from repair to equal results


@pytest.fixture(scope="module")
def stack() -> Iterator[FaultStack]:
    with fault_stack() as made:
        yield made
    print("\nfault campaign, repair -> results equal to finops allocate:")
    for name, seconds in RECOVERY.items():
        print(f"  {name}: {seconds:.1f} s")


@dataclass
class Case:
    """One scenario's topics, schema, services and organisation."""

    stack: FaultStack
    root: Path
    kafka: KafkaSettings
    postgres: PostgresSettings
    env: dict[str, str]
    org: Path
    ingest: Running | None = None
    allocator: AllocatorProcess | None = None
    governance: Running | None = None
    health: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)

    @property
    def ingest_url(self) -> str:
        assert self.ingest is not None
        return self.ingest.url

    @property
    def allocator_url(self) -> str:
        assert self.allocator is not None
        return f"http://127.0.0.1:{self.allocator.port}"

    def start_ingest(self) -> None:
        self.ingest = start_service(
            "ingest", "INGEST_", self.env, self.root / "ingest.log", wait_s=120
        )

    def start_governance(self) -> None:
        self.governance = start_service(
            "governance", "GOVERNANCE_", self.env, self.root / "governance.log"
        )

    def upload(self, path: Path, fmt: str, *, source: str = "files") -> str:
        """`finops ingest` of one file (it must be taken); its output."""
        args = ["--format", fmt, str(path), "--source", source]
        return finops(self.env, "ingest", *args, "--url", self.ingest_url).stdout

    def feed(self) -> None:
        """The organisation's costs and usage through ingest."""
        self.upload(self.org / "costs.csv", "node-costs")
        self.upload(self.org / "usage.csv", "usage")

    def watch(self) -> None:
        """Record one /healthz answer of each service."""
        services = [("ingest", self.ingest_url), ("allocator", self.allocator_url)]
        if self.governance is not None:
            services.append(("governance", self.governance.url))
        for name, url in services:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=5) as answer:
                    self.health.append((name, answer.status, json.loads(answer.read())))
            except urllib.error.HTTPError as exc:
                self.health.append((name, exc.code, json.loads(exc.read())))
            except OSError:
                self.health.append((name, 0, {}))

    def watch_until(self, name: str, check: str, words: str = "") -> None:
        """Poll /healthz until `name` answers 503 failing `check` (with `words`)."""
        wait = Deadline(60, f"{name} /healthz failing {check} {words!r}")
        while not self.saw_503(name, check, words):
            wait.check(str(self.health[-2:]))
            self.watch()
            time.sleep(0.3)

    def saw_503(self, name: str, check: str, words: str = "") -> bool:
        return any(
            who == name
            and code == 503
            and body["checks"].get(check) is False
            and words in body.get("reasons", {}).get(check, "")
            for who, code, body in self.health
        )

    def equal_results(self, label: str, timeout_s: float = 120) -> None:
        """Wait until the stored results equal `finops allocate` on the files."""
        want = batch_document(self.env, self.org, self.root / f"batch-{label}.json")
        out = self.root / f"stored-{label}.json"
        wait = Deadline(timeout_s, f"{label}: results equal to finops allocate")
        while True:
            done = run_finops("results", "--output", str(out), env=self.env)
            problems = ["no results"]
            if done.returncode == 0:
                problems = differences(json.loads(out.read_text()), want)
            if not problems:
                return
            wait.check("; ".join(problems[:3]))
            time.sleep(0.5)

    def counted_once(self, costs: list[Path], usage: list[Path]) -> None:
        """Nothing counted twice: what ingest holds in force is the files, once."""
        want = sum(
            (Decimal(row["amount"]) for path in costs for row in _rows(path)),
            Decimal(0),
        )
        rows = sum(len(_rows(path)) for path in usage)
        wait = Deadline(30, "ingest's outbox sent")
        while True:
            ledger = asyncio.run(_ledger(self.postgres))
            if ledger["pending"] == 0:
                break
            wait.check(str(ledger))
            time.sleep(0.3)
        assert (ledger["costs"], ledger["usage"], ledger["doubled"]) == (
            want,
            rows,
            0,
        ), ledger


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


async def _ledger(postgres: PostgresSettings) -> dict[str, Any]:
    """The node costs and usage rows ingest holds, deliveries in force more than once
    and outbox entries not sent."""
    conn = await asyncpg.connect(
        postgres.database_url, server_settings={"search_path": postgres.db_schema}
    )
    try:
        row = await conn.fetchrow(
            """SELECT
              (SELECT coalesce(sum(amount), 0) FROM node_costs_by_dimension) AS costs,
              (SELECT count(*) FROM node_usage_by_dimension) AS usage,
              (SELECT count(*) FROM (SELECT delivery_key FROM ingest_runs
                 WHERE status = 'succeeded' GROUP BY delivery_key
                 HAVING count(*) > 1) AS d) AS doubled,
              (SELECT count(*) FROM ingest_outbox WHERE published_at IS NULL)
                AS pending"""
        )
    finally:
        await conn.close()
    assert row is not None
    return dict(row)


@pytest.fixture
def case(stack: FaultStack, tmp_path: Path) -> Iterator[Case]:
    namespace = f"c{uuid.uuid4().hex[:8]}"
    schema = f"s_{namespace}"
    migrate_database(
        stack.postgres.database_url, folder=stack.postgres.migrations_dir, schema=schema
    )
    kafka = KafkaSettings(
        bootstrap_servers=stack.kafka.bootstrap_servers, topic_namespace=namespace
    )
    postgres = PostgresSettings(
        DATABASE_URL=stack.postgres.database_url, DATABASE_SCHEMA=schema
    )
    env = {
        **stack.env(),
        "KAFKA_TOPIC_NAMESPACE": namespace,
        "DATABASE_SCHEMA": schema,
        "FINOPS_TOKEN": asyncio.run(create_token(postgres)),
        "INGEST_SPOOL_DIR": str(tmp_path / "spool"),
        "INGEST_DROP_DIR": str(tmp_path / "drop"),
        "INGEST_OUTBOX_EVERY_S": "0.5",
        "ALLOCATOR_STALL_S": "5",
    }
    org = make_org(tmp_path / "org", days=6)
    made = Case(stack, tmp_path, kafka, postgres, env, org)
    finops(env, "graph", "apply", str(org / "graph.json"))
    made.start_ingest()
    made.allocator = AllocatorProcess(kafka, postgres, tmp_path)
    made.allocator.start()
    yield made
    made.allocator.stop(signal.SIGKILL)
    for running in (made.ingest, made.governance):
        if running is not None:
            running.stop(signal.SIGKILL)


# -- poison messages, tombstones, control characters, overflow ---------------------


def _outside_costs(node: str, micros: int) -> bytes:
    """A node_costs_reported event as an outside producer could write it."""
    cost = NodeCost(
        node="n", date=date(2025, 1, 2), dimension="compute", amount_micros=1
    )
    event = NodeCostsReported(
        event_id=uuid.uuid4(), occurred_at=datetime.now(UTC), source="x", costs=[cost]
    )
    payload = json.loads(encode_event(event))
    payload["costs"][0].update(node=node, amount_micros=micros)
    return json.dumps(payload).encode()


async def _inject(
    kafka: KafkaSettings, topic: TopicSpec, values: list[bytes | None]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        name = topic_name(topic, kafka.topic_namespace)
        for value in values:
            await producer.send_and_wait(name, value, key=b"2025-01-02", partition=0)
    finally:
        await producer.stop()


async def _dead_letters(
    kafka: KafkaSettings, topic: TopicSpec, wanted: list[str], consumer: str = ""
) -> list[str]:
    """The reasons of a topic's dead letters (of one consumer, if given), read until
    each of `wanted` is in one (a message dead-lettered just before a restart may be
    dead-lettered again: letters are sent at least once)."""
    reader = AIOKafkaConsumer(
        topic_name(dead_letter_of(topic), kafka.topic_namespace),
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=f"dlq-{uuid.uuid4().hex[:8]}",
    )
    await reader.start()
    found: list[str] = []
    try:
        wait = Deadline(60, f"dead letters of {topic.name} {consumer} saying {wanted}")
        while not all(any(w in r for r in found) for w in wanted):
            wait.check(str(found))
            batch = await reader.getmany(timeout_ms=1000)
            for message in (m for ms in batch.values() for m in ms):
                event = decode_event(message.value)
                if isinstance(event, MessageRejected) and consumer in event.consumer:
                    found.append(event.reason)
    finally:
        await reader.stop()
    return found


# Every consumed topic, with who consumes it (the graph: every service's graph log).
CONSUMED: dict[TopicSpec, tuple[str, ...]] = {
    GRAPH: ("",),
    NODE_COSTS: ("allocator", "governance"),
    USAGE: ("allocator",),
    ALLOCATOR_INPUTS: ("allocator",),
    COST_LINES: ("ingest",),
    ALLOCATIONS: ("governance",),
}


def _handled(url: str, topic: TopicSpec) -> float:
    """Events of a topic a service's /metrics counts as handled."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("finops_governance_events_total{")
        and f"{topic.name}" in line
        and 'outcome="handled"' in line
    )


def _hostile_copies(case: Case) -> tuple[Path, Path]:
    """The organisation's files with rows the edge must refuse, each naming its line:
    ids with control characters, an amount past the supported range."""
    folder = case.root / "hostile"
    folder.mkdir()
    costs, usage = folder / "costs.csv", folder / "usage.csv"
    node = _rows(case.org / "costs.csv")[0]["node"]
    costs.write_text(
        (case.org / "costs.csv").read_text()
        + "a\x1fb,2025-01-02,compute,1\n"
        + f"{node},2025-01-03,compute\x7f,1\n"
        + f"{node},2025-01-03,compute,9300000000000\n"
    )
    usage.write_text(
        (case.org / "usage.csv").read_text()
        + f'{node},2025-01-02,"cpu\x1fx",1.0,"{{}}"\n'
    )
    return costs, usage


def test_poison_tombstones_control_characters_and_overflow_are_dead_lettered(
    case: Case,
) -> None:
    case.start_governance()
    assert case.governance is not None
    case.feed()
    case.equal_results("before")
    handled = _handled(case.governance.url, ALLOCATIONS)
    began = time.monotonic()
    # At the edge: a file's hostile rows are refused, each with its file and line;
    # `finops allocate` refuses the same file naming the first of them.
    costs, usage = _hostile_copies(case)
    answer = case.upload(costs, "node-costs")
    assert "3 rejected" in answer, answer
    assert "1 rejected" in case.upload(usage, "usage")
    rejects = asyncio.run(_rejects(case.postgres))  # (file, line, reason)
    lines = len(_rows(case.org / "costs.csv")) + 1  # the last line of the good rows
    assert [(f.endswith("costs.csv"), n) for f, n, _ in rejects] == [
        (True, lines + 1),
        (True, lines + 2),
        (True, lines + 3),
        (False, len(_rows(case.org / "usage.csv")) + 2),
    ], rejects
    assert rejects[3][0].endswith("usage.csv"), rejects
    reasons = " ".join(r for _, _, r in rejects)
    for bad in ("a\x1fb", "compute\x7f", "cpu\x1fx"):  # each named, escaped
        assert "control character" in reasons and repr(bad) in reasons, reasons
    assert "outside the supported range" in reasons, reasons
    refused = run_finops(
        "allocate",
        "--graph",
        str(case.org / "graph.json"),
        "--costs",
        str(costs),
        "--summary-only",
        env=case.env,
    )
    assert refused.returncode != 0 and f"costs.csv:{lines + 1}:" in refused.stderr
    assert "Traceback" not in refused.stderr
    # On every consumed topic: a poison message and a tombstone; on node costs also
    # an outside producer's id with a control character and an amount past int64.
    for topic in CONSUMED:
        asyncio.run(_inject(case.kafka, topic, [b"{not json", None]))
    outside: list[bytes | None] = [
        _outside_costs("a\x1fb", 1_000_000),
        _outside_costs("db", 2**63 - 1),
    ]
    asyncio.run(_inject(case.kafka, NODE_COSTS, outside))
    # A source with a control character: one line from the client, no traceback.
    args = ["--format", "node-costs", str(case.org / "costs.csv"), "--source", "a\x1fb"]
    refused = run_finops("ingest", *args, "--url", case.ingest_url, env=case.env)
    assert refused.returncode != 0 and "source" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    case.watch()  # nothing stalls: dead letters are not a fault of the service
    assert case.allocator is not None
    case.allocator.stop(signal.SIGTERM)  # the graph is read whole again at a start
    case.allocator.start()
    for topic, consumers in CONSUMED.items():
        for consumer in consumers:
            wanted = ["not JSON", "tombstone"]
            if topic is NODE_COSTS:
                wanted += ["control character", "amount_micros"]
            asyncio.run(_dead_letters(case.kafka, topic, wanted, consumer))
    edit_csv(case.org / "costs.csv", 0, "amount", "4321.000001")  # a restatement
    case.upload(case.org / "costs.csv", "node-costs")  # goes through, applied once
    case.equal_results("after")
    RECOVERY["poison, tombstone, control characters, overflow"] = (
        time.monotonic() - began
    )
    case.counted_once([case.org / "costs.csv"], [case.org / "usage.csv"])
    # Governance read on past its poison: the restatement's results reached it.
    wait = Deadline(60, "governance handling allocations after the poison")
    while _handled(case.governance.url, ALLOCATIONS) <= handled:
        wait.check("")
        time.sleep(0.3)
    case.watch()
    assert [code for _, code, _ in case.health] == [200] * 6, case.health


async def _rejects(postgres: PostgresSettings) -> list[tuple[str, int, str]]:
    """Every refused row, in order: (file, line, reason)."""
    conn = await asyncpg.connect(
        postgres.database_url, server_settings={"search_path": postgres.db_schema}
    )
    try:
        rows = await conn.fetch(
            "SELECT j.file, j.line, j.reason"
            " FROM ingest_rejects j JOIN ingest_runs r USING (ingest_id)"
            " ORDER BY r.started_at, j.seq"
        )
    finally:
        await conn.close()
    return [(row["file"], row["line"], row["reason"]) for row in rows]


# -- ingest killed mid-upload -------------------------------------------------------


def test_sigkill_of_ingest_mid_upload_then_the_retry_changes_nothing(
    case: Case,
) -> None:
    case.upload(case.org / "usage.csv", "usage")
    body = (case.org / "costs.csv").read_bytes()
    params = {"filename": "costs.csv", "format": "node-costs", "source": "files"}
    upload = HalfUpload(case.ingest_url, body, params, case.env["FINOPS_TOKEN"])
    upload.start()
    assert case.ingest is not None
    case.ingest.stop(signal.SIGKILL)
    outcome = upload.finish()
    assert isinstance(outcome, httpx.HTTPError), outcome  # the client saw it fail
    case.watch()
    assert case.health[-2][1] == 0  # ingest answers nothing while it is down
    killed = time.monotonic()
    case.start_ingest()
    first = case.upload(case.org / "costs.csv", "node-costs")  # the client's retry
    again = case.upload(case.org / "costs.csv", "node-costs")
    assert "already ingested" not in first and "already ingested" in again
    case.equal_results("after")
    RECOVERY["SIGKILL of ingest mid-upload"] = time.monotonic() - killed
    case.counted_once([case.org / "costs.csv"], [case.org / "usage.csv"])
    assert asyncio.run(_runs(case.postgres)) == {
        ("costs.csv", "succeeded"): 1,
        ("usage.csv", "succeeded"): 1,
    }


async def _runs(postgres: PostgresSettings) -> dict[tuple[str, str], int]:
    conn = await asyncpg.connect(
        postgres.database_url, server_settings={"search_path": postgres.db_schema}
    )
    try:
        rows = await conn.fetch(
            "SELECT file_name, status, count(*) AS n FROM ingest_runs"
            " GROUP BY file_name, status"
        )
    finally:
        await conn.close()
    return {(r["file_name"], r["status"]): r["n"] for r in rows}


# -- the broker stopped during an upload and a pass --------------------------------


def test_broker_stopped_during_an_upload_and_a_pass(case: Case) -> None:
    case.feed()
    case.equal_results("before")
    edit_csv(case.org / "costs.csv", 2, "amount", "888.888888")
    case.upload(case.org / "costs.csv", "node-costs")  # a pass is due on it ...
    case.stack.stop("kafka")  # ... as the broker stops (routed, computed or storing)
    edit_csv(case.org / "costs.csv", 3, "amount", "999.999999")
    out = case.upload(case.org / "costs.csv", "node-costs")  # stored; events wait
    assert "rows read" in out
    case.watch_until("ingest", "kafka")
    case.watch_until("ingest", "outbox", "events not sent")
    case.watch_until("allocator", "kafka")
    case.stack.start()
    repaired = time.monotonic()
    case.equal_results("after", timeout_s=180)
    RECOVERY["broker stopped during an upload and a pass"] = time.monotonic() - repaired
    case.counted_once([case.org / "costs.csv"], [case.org / "usage.csv"])


# -- PostgreSQL stopped during an upload and a pass --------------------------------


def _restated_day(case: Case) -> date:
    """Change one day's cost in the files; the day."""
    row = edit_csv(case.org / "costs.csv", 5, "amount", "1111.111111")
    return date.fromisoformat(row["date"])


def test_postgres_stopped_during_an_upload_and_a_pass(case: Case) -> None:
    case.feed()
    case.equal_results("before")
    day = _restated_day(case)
    case.stack.stop("postgres")
    refused = run_finops(
        "ingest",
        "--format",
        "node-costs",
        str(case.org / "costs.csv"),
        "--source",
        "files",
        "--url",
        case.ingest_url,
        env=case.env,
    )
    assert refused.returncode != 0 and "service unavailable" in refused.stderr
    assert "Traceback" not in refused.stderr
    # A pass while the database is away: the day's new cost as ingest states it.
    period = f"files/{day.replace(day=1).isoformat()}"
    records = [r for r in cost_records(load_costs(case.org / "costs.csv", None))]
    asyncio.run(
        publish_events(
            case.kafka,
            cost_events([r for r in records if r.date == day], source=period),
        )
    )
    case.watch_until("ingest", "database")
    case.watch_until("allocator", "database")
    case.watch_until("allocator", "processing", "recompute pass failing")
    case.stack.start()
    repaired = time.monotonic()
    case.upload(case.org / "costs.csv", "node-costs")  # the client's retry
    case.equal_results("after", timeout_s=180)
    RECOVERY["PostgreSQL stopped during an upload and a pass"] = (
        time.monotonic() - repaired
    )
    case.counted_once([case.org / "costs.csv"], [case.org / "usage.csv"])


# -- four concurrent first uploads of a new month ----------------------------------


BILL_HEADER = (
    "BilledCost",
    "BillingAccountId",
    "BillingCurrency",
    "BillingPeriodStart",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ProviderName",
    "ServiceCategory",
    "Tags",
)
BILL_RULES = """cost_column: BilledCost
dimension: "{ServiceCategory}"
default_node: unmapped
rules:
  - when: {"Tags.node": "*"}
    node: "{Tags.node}"
"""


def _bills(case: Case, count: int) -> list[Path]:
    """The organisation's costs as `count` FOCUS bills of as many billing accounts:
    each cost row one daily bill line, tagged with its node (the rules map it back),
    so ingest derives exactly the node costs of costs.csv."""
    rows = _rows(case.org / "costs.csv")
    bills = []
    for i in range(count):
        bill = case.root / f"account{i}" / "bill.csv"
        bill.parent.mkdir()
        with bill.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(BILL_HEADER)
            for row in rows[i::count]:
                day = date.fromisoformat(row["date"])
                after = date.fromordinal(day.toordinal() + 1)
                writer.writerow(
                    [
                        row["amount"],
                        f"acct-{i}",
                        "USD",
                        f"{day.replace(day=1).isoformat()}T00:00:00Z",
                        f"{day.isoformat()}T00:00:00Z",
                        f"{after.isoformat()}T00:00:00Z",
                        "AWS",
                        row["dimension"],
                        json.dumps({"node": row["node"]}),
                    ]
                )
        bills.append(bill)
    return bills


def test_four_concurrent_first_uploads_of_a_new_month(case: Case) -> None:
    """Four bills of a month no upload has named yet, at once: each creates the
    month's partition of the bill lines if it is missing (the race once gave 500)."""
    case.upload(case.org / "usage.csv", "usage")
    bills = _bills(case, 4)
    rules = case.root / "rules.yaml"
    rules.write_text(BILL_RULES)
    began = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        done = list(
            pool.map(
                lambda p: run_finops(
                    "ingest",
                    "--format",
                    "focus",
                    str(p),
                    "--rules",
                    str(rules),
                    "--url",
                    case.ingest_url,
                    env=case.env,
                ),
                bills,
            )
        )
    assert [d.returncode for d in done] == [0, 0, 0, 0], [d.stderr for d in done]
    assert all(" 0 rejected" in d.stdout for d in done), [d.stdout for d in done]
    case.equal_results("after")
    RECOVERY["four concurrent first uploads of a new month"] = time.monotonic() - began
    case.counted_once([case.org / "costs.csv"], [case.org / "usage.csv"])
    assert asyncio.run(_runs(case.postgres))[("bill.csv", "succeeded")] == 4
