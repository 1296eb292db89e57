"""Lines from outside producers on the cost-lines topic, and the watched drop folder."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from finops.contracts.codec import encode_event
from finops.contracts.events import (
    CostLinesNormalized,
    MessageRejected,
    NodeCostsReported,
)
from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops.contracts.topics import COST_LINES, NODE_COSTS, dead_letter_of, topic_name
from finops.domain.records import CostRecord
from tests.support.deadline import Deadline
from tests.support.ingest_helpers import ingest_client, ingest_settings, read_topic

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "focus"
SEPTEMBER = datetime(2024, 9, 1, tzinfo=UTC)


def _line(line: int, cost: str, *, service: str = "Compute") -> CostRecord:
    return CostRecord(
        source="billing-export",
        line=line,
        provider="AWS",
        billing_account_id="123",
        billing_period_start=SEPTEMBER,
        charge_period_start=datetime(2024, 9, 3, tzinfo=UTC),
        charge_period_end=datetime(2024, 9, 4, tzinfo=UTC),
        service_category=service,
        billed_cost=Decimal(cost),
        tags={"product": "checkout"},
    )


def _batch(delivery: uuid.UUID, lines: list[CostRecord]) -> CostLinesNormalized:
    return CostLinesNormalized(
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        source="aws-payer",
        ingest_id=delivery,
        billing_period_start=SEPTEMBER,
        lines=lines,
    )


async def _produce(kafka: KafkaSettings, *payloads: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        for payload in payloads:
            await producer.send_and_wait(
                topic_name(COST_LINES, kafka.topic_namespace), payload, key=b"123"
            )
    finally:
        await producer.stop()


async def _wait_for(db: asyncpg.Connection, query: str, expected: object) -> None:
    """Poll the database until the query answers `expected` (a wait, not a timing)."""
    wait = Deadline(60, f"{query!r} to answer {expected!r}")
    while (answer := await db.fetchval(query)) != expected:
        wait.check(f"it answers {answer!r}")
        await asyncio.sleep(0.1)


async def test_outside_producer_lines_become_node_costs_once(
    kafka_settings: KafkaSettings,
    postgres_settings: PostgresSettings,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        'rules:\n  - when: {"Tags.product": "*"}\n    node: "{Tags.product}"\n'
    )
    settings = ingest_settings(
        kafka_settings, postgres_settings, tmp_path, topic_rules=rules
    )
    first = _batch(uuid.uuid4(), [_line(2, "1.25"), _line(3, "-0.25")])
    async with ingest_client(settings):
        await _produce(
            kafka_settings, encode_event(first), encode_event(first), b"not an event"
        )
        dead = await read_topic(kafka_settings, dead_letter_of(COST_LINES), count=1)
        await _wait_for(db, "SELECT count(*) FROM ingest_runs", 1)
        restated = _batch(uuid.uuid4(), [_line(7, "4.00")])
        await _produce(kafka_settings, encode_event(restated))
        await _wait_for(db, "SELECT count(*) FROM ingest_runs", 2)
    assert isinstance(dead[0][1], MessageRejected) and "not JSON" in dead[0][1].reason
    costs = await db.fetch(
        "SELECT node_id, charge_date, amount FROM node_costs_by_dimension"
    )
    assert [(c["node_id"], c["charge_date"], c["amount"]) for c in costs] == [
        ("checkout", date(2024, 9, 3), Decimal("4.000000"))
    ]
    lines = await db.fetch("SELECT line, source FROM cost_lines")
    assert [(r["line"], r["source"]) for r in lines] == [(7, "aws-payer")]
    events = await read_topic(kafka_settings, NODE_COSTS, count=2)
    assert [
        sum(c.amount_micros for c in e.costs)
        for _, e in events
        if isinstance(e, NodeCostsReported)
    ] == [1_000_000, 4_000_000]


async def test_messages_of_one_delivery_add_exactly_and_round_once(
    kafka_settings: KafkaSettings,
    postgres_settings: PostgresSettings,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    """Two messages of one producer delivery, each a line of 0.0000007 on the same
    node and day: each alone would round to 0.000001; their exact sum 0.0000014 is
    stored and rounded once (issue 16)."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        'rules:\n  - when: {"Tags.product": "*"}\n    node: "{Tags.product}"\n'
    )
    settings = ingest_settings(
        kafka_settings, postgres_settings, tmp_path, topic_rules=rules
    )
    delivery = uuid.uuid4()
    messages = [_batch(delivery, [_line(n, "0.0000007")]) for n in (2, 3)]
    async with ingest_client(settings):
        await _produce(kafka_settings, *(encode_event(m) for m in messages))
        await _wait_for(db, "SELECT count(*) FROM ingest_runs", 2)
    stored = await db.fetchrow(
        "SELECT amount, exact_amount FROM node_costs_by_dimension"
    )
    assert stored is not None
    assert (stored["amount"], stored["exact_amount"]) == (
        Decimal("0.000001"),
        Decimal("0.0000014"),
    )
    picos = await db.fetch("SELECT cost, cost_picos FROM cost_lines ORDER BY line")
    assert [(r["cost"], r["cost_picos"]) for r in picos] == [
        (Decimal("0.000001"), -300_000)
    ] * 2


async def test_drop_folder_takes_files_and_moves_them_with_their_outcome(
    kafka_settings: KafkaSettings,
    postgres_settings: PostgresSettings,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    settings = ingest_settings(
        kafka_settings,
        postgres_settings,
        tmp_path,
        consume_cost_lines=False,
        drop_source="dropped",
        drop_dir=tmp_path / "not-yet" / "drop",
    )
    async with ingest_client(settings):
        drop = settings.drop_folder
        (drop / "costs.csv.part").write_text(
            "node,date,dimension,amount\nx,2024-09-05,c,2\n"
        )
        (drop / "costs.csv.part").rename(drop / "costs.csv")
        (drop / "unknown_layout.csv").write_bytes(
            (DATA / "unknown_layout.csv").read_bytes()
        )
        await _wait_for(db, "SELECT count(*) FROM ingest_runs", 2)
        # The move follows the database write.
        wait = Deadline(10, "the dropped files to move to done/ and failed/")
        while left := sorted(p.name for p in drop.iterdir() if p.is_file()):
            wait.check(f"still there: {left}")
            await asyncio.sleep(0.1)
    assert (drop / "done" / "costs.csv").is_file()
    assert (
        '"status": "succeeded"' in (drop / "done" / "costs.csv.result.json").read_text()
    )
    reason = (drop / "failed" / "unknown_layout.csv.reason.txt").read_text()
    assert "missing" in reason
    amount = await db.fetchval(
        "SELECT amount FROM node_costs_by_dimension WHERE node_id='x'"
    )
    assert amount == Decimal("2.000000")
