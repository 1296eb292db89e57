"""The allocator through the real broker and database gives what `allocate` gives."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from finops.adapters.input_feed import publish_files
from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops.formats.graphfile import load_graph, save_graph
from tests.support.allocator_process import AllocatorProcess
from tests.support.cli import finops
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
def env(
    kafka_settings: KafkaSettings, postgres_settings: PostgresSettings
) -> dict[str, str]:
    """The CLI's environment: this test's topics and schema."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "KAFKA_TOPIC_NAMESPACE": kafka_settings.topic_namespace,
        "DATABASE_URL": postgres_settings.database_url,
        "DATABASE_SCHEMA": postgres_settings.db_schema,
    }


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
    assert "finops_allocator_ingest_to_stored_seconds_count" in workers[0].metrics()


def test_sigkill_mid_stream_then_restart_loses_and_doubles_nothing(
    env: dict[str, str],
    kafka_settings: KafkaSettings,
    postgres_settings: PostgresSettings,
    workers: list[AllocatorProcess],
    tmp_path: Path,
) -> None:
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
