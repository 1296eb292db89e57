"""The fault campaign (issue 16): ingest and the allocator as processes on a broker
and a database of their own, which the scenarios stop and start. Each scenario feeds a
known organisation through ingest (as `finops ingest` does), injects its fault,
recovers, and asserts that the stored results equal `finops allocate` on the same
files to the micro-unit (a cost applied twice would change them), and that /healthz
said what was broken while it was. Recovery times are printed (`-s` shows them)."""

from __future__ import annotations

import asyncio
import csv
import json
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
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
        for name, url in (
            ("ingest", self.ingest_url),
            ("allocator", self.allocator_url),
        ):
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
    if made.ingest is not None:
        made.ingest.stop(signal.SIGKILL)


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
    kafka: KafkaSettings, topic: TopicSpec, wanted: list[str]
) -> list[str]:
    """The reasons of a topic's dead letters, read until each of `wanted` is in one
    (a message dead-lettered just before a restart may be dead-lettered again:
    letters are sent at least once)."""
    consumer = AIOKafkaConsumer(
        topic_name(dead_letter_of(topic), kafka.topic_namespace),
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=f"dlq-{uuid.uuid4().hex[:8]}",
    )
    await consumer.start()
    found: list[str] = []
    try:
        wait = Deadline(60, f"dead letters of {topic.name} saying {wanted}")
        while not all(any(w in r for r in found) for w in wanted):
            wait.check(str(found))
            batch = await consumer.getmany(timeout_ms=1000)
            for message in (m for ms in batch.values() for m in ms):
                event = decode_event(message.value)
                if isinstance(event, MessageRejected):
                    found.append(event.reason)
    finally:
        await consumer.stop()
    return found


def test_poison_tombstones_control_characters_and_overflow_are_dead_lettered(
    case: Case,
) -> None:
    case.feed()
    case.equal_results("before")
    began = time.monotonic()
    for topic in (GRAPH, NODE_COSTS, USAGE, ALLOCATOR_INPUTS, COST_LINES):
        asyncio.run(_inject(case.kafka, topic, [b"{not json", None]))
    outside: list[bytes | None] = [
        _outside_costs("a\x1fb", 1_000_000),
        _outside_costs("db", 2**63 - 1),
    ]
    asyncio.run(_inject(case.kafka, NODE_COSTS, outside))
    assert case.allocator is not None
    case.allocator.stop(signal.SIGTERM)  # the graph is read whole again at a start
    case.allocator.start()
    for topic in (GRAPH, NODE_COSTS, USAGE, ALLOCATOR_INPUTS, COST_LINES):
        wanted = ["not JSON", "tombstone"]
        if topic is NODE_COSTS:
            wanted += ["control character", "amount_micros"]
        asyncio.run(_dead_letters(case.kafka, topic, wanted))
    edit_csv(case.org / "costs.csv", 0, "amount", "4321.000001")  # a restatement
    case.upload(case.org / "costs.csv", "node-costs")  # goes through, applied once
    case.equal_results("after")
    RECOVERY["poison, tombstone, control characters, overflow"] = (
        time.monotonic() - began
    )
    case.watch()
    assert [code for _, code, _ in case.health] == [200, 200], case.health


# -- ingest killed mid-upload -------------------------------------------------------


def test_sigkill_of_ingest_mid_upload_then_the_retry_changes_nothing(
    case: Case,
) -> None:
    case.upload(case.org / "usage.csv", "usage")
    body = (case.org / "costs.csv").read_bytes()
    half, go_on = threading.Event(), threading.Event()
    outcome: list[object] = []

    def slowly() -> Iterator[bytes]:
        yield body[: len(body) // 2]
        half.set()
        go_on.wait(30)
        yield body[len(body) // 2 :]

    def send() -> None:
        params = {"filename": "costs.csv", "format": "node-costs", "source": "files"}
        headers = {"Authorization": f"Bearer {case.env['FINOPS_TOKEN']}"}
        try:
            outcome.append(
                httpx.post(
                    f"{case.ingest_url}/ingests",
                    params=params,
                    content=slowly(),
                    headers=headers,
                    timeout=30,
                )
            )
        except httpx.HTTPError as exc:
            outcome.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    assert half.wait(30)
    assert case.ingest is not None
    case.ingest.stop(signal.SIGKILL)
    go_on.set()
    sender.join(60)
    assert isinstance(outcome[0], httpx.HTTPError), outcome  # the client saw it fail
    case.watch()
    assert case.health[-2][1] == 0  # ingest answers nothing while it is down
    killed = time.monotonic()
    case.start_ingest()
    first = case.upload(case.org / "costs.csv", "node-costs")  # the client's retry
    again = case.upload(case.org / "costs.csv", "node-costs")
    assert "already ingested" not in first and "already ingested" in again
    case.equal_results("after")
    RECOVERY["SIGKILL of ingest mid-upload"] = time.monotonic() - killed
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
    case.stack.stop("kafka")
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
    assert asyncio.run(_pending(case.postgres)) == 0


async def _pending(postgres: PostgresSettings) -> int:
    conn = await asyncpg.connect(
        postgres.database_url, server_settings={"search_path": postgres.db_schema}
    )
    try:
        pending: int = await conn.fetchval(
            "SELECT count(*) FROM ingest_outbox WHERE published_at IS NULL"
        )
    finally:
        await conn.close()
    return pending


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


# -- four concurrent first uploads of a new month ----------------------------------


def test_four_concurrent_first_uploads_of_a_new_month(case: Case) -> None:
    case.upload(case.org / "usage.csv", "usage")
    with (case.org / "costs.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    parts = []
    for i in range(4):
        part = case.root / f"part{i}" / "costs.csv"
        part.parent.mkdir()
        with part.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(r for n, r in enumerate(rows) if n % 4 == i)
        parts.append(part)
    began = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        done = list(
            pool.map(
                lambda p: run_finops(
                    "ingest",
                    "--format",
                    "node-costs",
                    str(p),
                    "--url",
                    case.ingest_url,
                    env=case.env,
                ),
                parts,
            )
        )
    assert [d.returncode for d in done] == [0, 0, 0, 0], [d.stderr for d in done]
    case.equal_results("after")
    RECOVERY["four concurrent first uploads of a new month"] = time.monotonic() - began
    runs = asyncio.run(_runs(case.postgres))
    assert runs[("costs.csv", "succeeded")] == 4
