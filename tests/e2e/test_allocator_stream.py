"""The allocator through the real broker and database gives what `allocate` gives."""

from __future__ import annotations

import asyncio
import csv
import json
import signal
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from allocator.inputs.days import entry_parts
from allocator.inputs.keys import KeyKind, decode_bucket, encode_bucket, parse_key
from finops.adapters.input_feed import publish_files
from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops.contracts.topics import ALLOCATOR_INPUTS
from finops.formats.graphfile import load_graph, save_graph
from tests.support.allocator_process import AllocatorProcess
from tests.support.cli import finops
from tests.support.deadline import Deadline
from tests.support.stream_checks import (
    batch_document,
    differences,
    edit_csv,
    first_day,
    make_org,
    plus,
    publish_day,
    wait_for_document,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def workers(
    kafka_settings: KafkaSettings, postgres_settings: PostgresSettings, tmp_path: Path
) -> Iterator[list[AllocatorProcess]]:
    """Up to two allocator workers of one group; all stopped at the end."""
    made = [
        AllocatorProcess(kafka_settings, postgres_settings, tmp_path, name=f"worker{i}")
        for i in range(2)
    ]
    yield made
    for worker in made:
        worker.stop(signal.SIGKILL)


def _publish(kafka: KafkaSettings, org: Path) -> None:
    asyncio.run(
        publish_files(
            kafka, costs=org / "costs.csv", usage=org / "usage.csv", known=None
        )
    )


def test_stream_equals_batch_and_follows_restatement_usage_and_ending_edge(
    env: dict[str, str],
    kafka_settings: KafkaSettings,
    postgres_settings: PostgresSettings,
    workers: list[AllocatorProcess],
    tmp_path: Path,
) -> None:
    org = make_org(tmp_path / "org")
    finops(env, "graph", "apply", str(org / "graph.json"))
    workers[0].start()
    _publish(kafka_settings, org)
    wait_for_document(postgres_settings, batch_document(env, org, tmp_path / "b1.json"))
    finops(env, "results", "--output", str(tmp_path / "r1.json"))
    stored = json.loads((tmp_path / "r1.json").read_text())
    assert not differences(stored, json.loads((tmp_path / "b1.json").read_text()))

    day = plus(first_day(org), 2)
    cost = edit_csv(org / "costs.csv", 0, "amount", "1234.500000")  # restated
    publish_day(kafka_settings, org, date.fromisoformat(cost["date"]), what="costs")
    row = edit_csv(org / "usage.csv", 5, "value", "777.0")  # a changed usage figure
    publish_day(kafka_settings, org, date.fromisoformat(row["date"]), what="usage")
    spec = load_graph(org / "graph.json")
    edges = list(spec.edges)
    edges[0] = edges[0].model_copy(update={"active_to": day})  # an edge that ends
    save_graph(spec.model_copy(update={"edges": edges}), org / "graph.json")
    applied = finops(env, "graph", "apply", str(org / "graph.json"))
    assert "1 edges upserted" in applied.stdout
    wait_for_document(postgres_settings, batch_document(env, org, tmp_path / "b2.json"))
    exposed = workers[0].metrics()
    assert "finops_allocator_ingest_to_stored_seconds_count" in exposed
    assert "finops_allocator_pass_rest_seconds" in exposed  # paced (0310), still equal


@pytest.mark.parametrize("group_days", ["1", "7"])  # 7: busy dates on one engine
def test_sigkill_mid_stream_then_restart_loses_and_doubles_nothing(
    env: dict[str, str],
    kafka_settings: KafkaSettings,
    postgres_settings: PostgresSettings,
    workers: list[AllocatorProcess],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    group_days: str,
) -> None:
    monkeypatch.setenv("ALLOCATOR_GROUP_DAYS", group_days)  # read by the worker
    org = make_org(tmp_path / "org", days=12, seed=5)
    finops(env, "graph", "apply", str(org / "graph.json"))
    worker = workers[0]
    worker.start()
    _publish(kafka_settings, org)
    while "finops_allocator_days_stored_total" not in worker.metrics():
        time.sleep(0.05)  # wait for the first stored date, then kill mid-stream
    worker.stop(signal.SIGKILL)
    _publish(kafka_settings, org)  # delivered again while the worker is down
    worker.start()
    wait_for_document(postgres_settings, batch_document(env, org, tmp_path / "b.json"))


def test_two_workers_splitting_partitions_give_the_results_of_one(
    env: dict[str, str],
    kafka_settings: KafkaSettings,
    postgres_settings: PostgresSettings,
    workers: list[AllocatorProcess],
    tmp_path: Path,
) -> None:
    org = make_org(tmp_path / "org", days=12, seed=7)
    finops(env, "graph", "apply", str(org / "graph.json"))
    for worker in workers:
        worker.start()
    _publish(kafka_settings, org)
    wait_for_document(postgres_settings, batch_document(env, org, tmp_path / "b.json"))
    owned = [_last_ownership(w.log) for w in workers]
    assert owned[0] and owned[1] and not owned[0] & owned[1]
    assert owned[0] | owned[1] == set(range(6))


def _last_ownership(log: Path) -> set[int]:
    lines = [x for x in log.read_text().splitlines() if "owns partitions" in x]
    return (
        set(json.loads(lines[-1].split("owns partitions ", 1)[1])) if lines else set()
    )


# -- an upgrade over a changelog of the legacy form (issue 16, decision record 0210) --


async def _latest(kafka: KafkaSettings, topic: str) -> dict[tuple[int, bytes], Any]:
    """A changelog's last value per (partition, key) (None: deleted)."""
    reader = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await reader.start()
    try:
        assert topic in await reader.topics()
        # The changelogs have the partitions of the inputs topic.
        parts = [TopicPartition(topic, p) for p in range(ALLOCATOR_INPUTS.partitions)]
        reader.assign(parts)
        ends = await reader.end_offsets(parts)
        starts = await reader.beginning_offsets(parts)
        for part in parts:
            reader.seek(part, starts[part])
        read = dict(starts)  # next offset to read, per partition
        latest: dict[tuple[int, bytes], Any] = {}
        wait = Deadline(60, f"{topic} read to its end")
        while any(read[p] < ends[p] for p in parts):
            wait.check(f"{read} of {ends}")
            batch = await reader.getmany(timeout_ms=1000)
            for part, records in batch.items():
                for record in records:
                    if record.offset < ends[part]:
                        latest[(part.partition, record.key)] = record.value
                    read[part] = max(read[part], record.offset + 1)
    finally:
        await reader.stop()
    return latest


def _legacy_record(key: bytes, value: bytes) -> tuple[bytes, bytes]:
    """A changelog record of today's form as the allocator wrote it before issue 16:
    keys and usage entries joined with U+001F."""
    parsed = parse_key(json.loads(key))
    mark = "#" if parsed.kind is KeyKind.BUCKET else "~"
    number = f"{parsed.number:010d}" if mark == "~" else str(parsed.number)
    old = f"{parsed.day.isoformat()}\x1f{parsed.source}\x1f{mark}{number}"
    nodes = decode_bucket(value)
    for node, entries in nodes.items():
        if isinstance(entries, dict) and any(e[10:11].isdigit() for e in entries):
            nodes[node] = {_legacy_entry(e): v for e, v in entries.items()}
    return json.dumps(old).encode(), encode_bucket(nodes)


def _legacy_entry(entry: str) -> str:
    day, metric, labels = entry_parts(entry)
    return f"{day}\x1f{metric}\x1f{labels}"


async def _make_legacy(kafka: KafkaSettings, topic: str) -> int:
    """Rewrite a changelog in the legacy form: each live key written again under its
    old key, today's key deleted. Returns how many keys were rewritten."""
    latest = await _latest(kafka, topic)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        live = [(k, v) for k, v in latest.items() if v is not None]
        for (partition, key), value in live:
            old_key, old_value = _legacy_record(key, value)
            await producer.send_and_wait(
                topic, old_value, key=old_key, partition=partition
            )
            await producer.send_and_wait(topic, None, key=key, partition=partition)
    finally:
        await producer.stop()
    return len(live)


def _legacy_keys(kafka: KafkaSettings, topic: str) -> int:
    latest = asyncio.run(_latest(kafka, topic))
    return sum(
        1
        for (_, key), value in latest.items()
        if value is not None and parse_key(json.loads(key)).legacy
    )


def test_an_upgrade_reads_a_changelog_of_the_legacy_form_and_rewrites_it(
    env: dict[str, str],
    kafka_settings: KafkaSettings,
    postgres_settings: PostgresSettings,
    workers: list[AllocatorProcess],
    tmp_path: Path,
) -> None:
    org = make_org(tmp_path / "org")
    finops(env, "graph", "apply", str(org / "graph.json"))
    worker = workers[0]
    worker.start()
    _publish(kafka_settings, org)
    wait_for_document(postgres_settings, batch_document(env, org, tmp_path / "b1.json"))
    worker.stop(signal.SIGTERM)
    app = f"{kafka_settings.topic_namespace}-finops-allocator"
    costs, usage = f"{app}-costs-changelog", f"{app}-usage-changelog"
    for topic in (costs, usage):
        assert asyncio.run(_make_legacy(kafka_settings, topic)) > 0
        assert _legacy_keys(kafka_settings, topic) > 0
    worker.start()
    # Every owned date recomputed from the state rebuilt out of legacy keys: an
    # edge that ends changes the results, which must be those of finops allocate.
    spec = load_graph(org / "graph.json")
    edges = list(spec.edges)
    edges[0] = edges[0].model_copy(update={"active_to": plus(first_day(org), 2)})
    save_graph(spec.model_copy(update={"edges": edges}), org / "graph.json")
    finops(env, "graph", "apply", str(org / "graph.json"))
    wait_for_document(postgres_settings, batch_document(env, org, tmp_path / "b2.json"))
    # New pieces for every date and source: the legacy keys are written again in
    # today's form and deleted; a restart after that reads the same state.
    before = _legacy_keys(kafka_settings, costs)
    for day in sorted({r["date"] for r in _csv_rows(org / "costs.csv")}):
        cost = next(r for r in _csv_rows(org / "costs.csv") if r["date"] == day)
        edit_csv(
            org / "costs.csv",
            _csv_rows(org / "costs.csv").index(cost),
            "amount",
            "4321.000001",
        )
        publish_day(kafka_settings, org, date.fromisoformat(day), what="costs")
    wait_for_document(postgres_settings, batch_document(env, org, tmp_path / "b3.json"))
    assert _legacy_keys(kafka_settings, costs) < before
    worker.stop(signal.SIGKILL)
    worker.start()
    edges[0] = edges[0].model_copy(update={"active_to": None})
    save_graph(spec.model_copy(update={"edges": edges}), org / "graph.json")
    finops(env, "graph", "apply", str(org / "graph.json"))
    wait_for_document(postgres_settings, batch_document(env, org, tmp_path / "b4.json"))


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))
