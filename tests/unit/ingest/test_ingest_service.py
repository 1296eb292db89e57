"""The ingest service's orchestration with in-memory fakes: no broker, no database."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from finops.contracts.events import NodeCostsReported, RowRejected, UsageReported
from ingest.formats import IngestFormat
from ingest.models import Delivery
from ingest.service import IngestService
from tests.support.ingest_fakes import InMemoryIngestStore, RecordingPublisher

DATA = Path(__file__).resolve().parents[2] / "data" / "focus"
FIRST = (
    "node,date,dimension,amount\ndb,2024-09-01,compute,10\ndb,2024-09-02,compute,2\n"
)
SECOND = "node,date,dimension,amount\ndb,2024-09-01,compute,7.5\n"


@pytest.fixture
def store() -> InMemoryIngestStore:
    return InMemoryIngestStore()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def service(store: InMemoryIngestStore, publisher: RecordingPublisher) -> IngestService:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return IngestService(store, publisher, clock=lambda: now, event_batch=1)


def _delivery(
    path: Path,
    fmt: IngestFormat,
    source: str | None = "team",
    rules_id: str | None = None,
) -> Delivery:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Delivery(
        path=path,
        file_name=path.name,
        fmt=fmt,
        content_hash=digest,
        source=source,
        rules_id=rules_id,
    )


def _replaced(event: NodeCostsReported) -> date:
    """The first date a restatement event replaces."""
    assert event.replaces is not None, event
    return event.replaces.first


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


async def test_node_costs_are_stored_and_published_by_charge_date(
    service: IngestService,
    store: InMemoryIngestStore,
    publisher: RecordingPublisher,
    tmp_path: Path,
) -> None:
    result = await service.ingest(
        _delivery(_file(tmp_path, "a.csv", FIRST), IngestFormat.NODE_COSTS)
    )
    assert (result.rows_read, result.rows_accepted, result.provider_totals) == (
        2,
        2,
        {"team": Decimal("12.000000")},
    )
    events = publisher.events("node-costs")
    assert [(e.replaces.first, e.source) for e in events] == [
        (date(2024, 9, 1), "team/2024-09-01"),
        (date(2024, 9, 2), "team/2024-09-01"),
    ]
    assert [key for _, key, _ in publisher.sent] == ["2024-09-01", "2024-09-02"]
    assert store.line_count() == 2


async def test_a_redelivery_replaces_the_period_and_empties_dropped_dates(
    service: IngestService,
    store: InMemoryIngestStore,
    publisher: RecordingPublisher,
    tmp_path: Path,
) -> None:
    await service.ingest(
        _delivery(_file(tmp_path, "a.csv", FIRST), IngestFormat.NODE_COSTS)
    )
    publisher.sent.clear()
    await service.ingest(
        _delivery(_file(tmp_path, "b.csv", SECOND), IngestFormat.NODE_COSTS)
    )
    events: list[NodeCostsReported] = publisher.events("node-costs")
    assert [(_replaced(e), [c.amount_micros for c in e.costs]) for e in events] == [
        (date(2024, 9, 1), [7_500_000]),
        (date(2024, 9, 2), []),
    ]
    assert store.line_count() == 1


async def test_the_same_delivery_twice_changes_nothing(
    service: IngestService,
    store: InMemoryIngestStore,
    publisher: RecordingPublisher,
    tmp_path: Path,
) -> None:
    path = _file(tmp_path, "a.csv", FIRST)
    first = await service.ingest(_delivery(path, IngestFormat.NODE_COSTS))
    sent, state = list(publisher.sent), store.state
    again = await service.ingest(_delivery(path, IngestFormat.NODE_COSTS))
    assert again.duplicate and again.ingest_id == first.ingest_id
    assert publisher.sent == sent and store.state is state


async def test_a_refused_file_is_recorded_and_changes_nothing(
    service: IngestService,
    store: InMemoryIngestStore,
    publisher: RecordingPublisher,
    tmp_path: Path,
) -> None:
    await service.ingest(
        _delivery(_file(tmp_path, "a.csv", FIRST), IngestFormat.NODE_COSTS)
    )
    costs, sent = dict(store.state.costs), list(publisher.sent)
    refused = await service.ingest(
        _delivery(DATA / "unknown_layout.csv", IngestFormat.FOCUS)
    )
    assert refused.status == "refused" and "missing" in (refused.error or "")
    assert store.state.costs == costs and publisher.sent == sent
    assert (await service.get(refused.ingest_id)) == refused


async def test_rejected_rows_go_to_the_dead_letters_with_their_lines(
    service: IngestService,
    publisher: RecordingPublisher,
) -> None:
    result = await service.ingest(_delivery(DATA / "bad_rows.csv", IngestFormat.FOCUS))
    letters: list[RowRejected] = publisher.events("finops.cost-lines.v1.dlq")
    assert len(letters) == result.rows_rejected > 0 and result.rows_accepted > 0
    assert all(e.source == "bad_rows.csv" and e.line and e.line >= 2 for e in letters)
    assert [r.line for r in await service.rejects(result.ingest_id)] == [
        e.line for e in letters
    ]


async def test_usage_is_published_per_date_and_replaced_per_month(
    service: IngestService,
    publisher: RecordingPublisher,
) -> None:
    result = await service.ingest(_delivery(DATA / "usage.csv", IngestFormat.USAGE))
    events: list[UsageReported] = publisher.events("usage")
    assert result.rows_accepted == sum(len(e.usage) for e in events) > 0
    assert all(e.replaces is not None or not e.usage for e in events[:1])


async def test_rules_are_kept_by_id_and_an_unknown_id_is_refused(
    service: IngestService,
    tmp_path: Path,
) -> None:
    rules_id = await service.save_rules("default_node: elsewhere\n")
    path = DATA / "focus_1_1.csv"
    mapped = await service.ingest(
        _delivery(path, IngestFormat.FOCUS, rules_id=rules_id)
    )
    assert mapped.status == "succeeded"
    unknown = await service.ingest(_delivery(path, IngestFormat.FOCUS, rules_id="nope"))
    assert unknown.status == "refused" and "unknown rules id" in (unknown.error or "")
