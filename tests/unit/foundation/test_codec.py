"""One codec turns every event into bytes and back, and refuses what it cannot read."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TypedDict
from uuid import UUID

import pytest

from finops.contracts.codec import (
    CURRENT_VERSIONS,
    decode_event,
    encode_event,
    encode_with_node_rows,
)
from finops.contracts.events import (
    AllocationComputed,
    BudgetAlertChanged,
    CostLinesNormalized,
    DateScope,
    DayInputsRouted,
    EdgeRef,
    Event,
    FlowResult,
    GraphChanged,
    NodeCostsReported,
    NodeResult,
    RowRejected,
    UsageReported,
)
from finops.domain.dag import EdgeSpec, NodeSpec, NodeType
from finops.domain.records import CostRecord, NodeCost, UsageRecord
from finops.errors import EventDecodeError, SchemaVersionError

NOW = datetime(2024, 9, 1, 12, tzinfo=UTC)
DAY = date(2024, 9, 1)


class _Base(TypedDict):
    event_id: UUID
    occurred_at: datetime


def _base() -> _Base:
    return {"event_id": uuid.uuid4(), "occurred_at": NOW}


def _line() -> CostRecord:
    return CostRecord(
        source="f.csv",
        line=2,
        provider="AWS",
        billing_account_id="1",
        billing_period_start=NOW,
        charge_period_start=NOW,
        charge_period_end=NOW,
        billed_cost=Decimal("-0.000001"),
        tags={"team": "a"},
    )


EXAMPLES: list[Event] = [
    GraphChanged(
        **_base(),
        version=2,
        digest="abc",
        nodes_upserted=[NodeSpec(id="db", type=NodeType.SHARED)],
        edges_upserted=[
            EdgeSpec.model_validate({"from": "db", "to": "shop", "strategy": "equal"})
        ],
        edges_removed=[EdgeRef.model_validate({"from": "db", "to": "old"})],
    ),
    NodeCostsReported(
        **_base(),
        source="s",
        costs=[NodeCost(node="db", date=DAY, dimension="compute", amount_micros=-7)],
    ),
    UsageReported(
        **_base(),
        source="s",
        usage=[
            UsageRecord(
                node="shop",
                date=DAY,
                metric="requests",
                value=1.5,
                labels={"env": "prod"},
            )
        ],
    ),
    CostLinesNormalized(
        **_base(),
        source="s",
        ingest_id=uuid.uuid4(),
        billing_period_start=NOW,
        lines=[_line()],
    ),
    RowRejected(**_base(), source="f.csv", line=7, reason="BilledCost is not a number"),
    AllocationComputed(
        **_base(),
        charge_date=DAY,
        dimension="compute",
        graph_version=1,
        run_id=uuid.uuid4(),
        nodes=[
            NodeResult(
                node="db",
                direct=10,
                indirect=0,
                holistic=10,
                allocated_out=10,
                retained=0,
            )
        ],
        flows=[
            FlowResult.model_validate(
                {
                    "from": "db",
                    "to": "shop",
                    "amount": 10,
                    "strategy": "equal",
                    "share": 1.0,
                }
            )
        ],
    ),
    DayInputsRouted(
        **_base(),
        charge_date=DAY,
        source="s",
        origin="finops.node-costs.v1/0/7",
        ingested_at=NOW,
        costs_replace=True,
        usage_replaces=DateScope(first=DAY, last=DAY),
        costs=[NodeCost(node="db", date=DAY, dimension="compute", amount_micros=3)],
    ),
    BudgetAlertChanged(
        **_base(),
        alert_id=uuid.UUID(int=7),
        status="alert",
        budget_id="b1",
        budget_name="Shop",
        scope={"node": "shop"},
        threshold_percent=Decimal("80"),
        basis="forecast",
        period_start=DAY,
        period_end=date(2024, 10, 1),
        spent_micros=5,
        forecast_micros=12,
        budget_micros=10,
        as_of=DAY,
    ),
]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.type)
def test_every_event_type_round_trips_exactly(event: Event) -> None:
    assert decode_event(encode_event(event)) == event


def test_every_event_type_is_covered_by_an_example() -> None:
    assert {e.type for e in EXAMPLES} == set(CURRENT_VERSIONS)


def test_edges_keep_their_from_field_on_the_wire() -> None:
    payload = json.loads(encode_event(EXAMPLES[0]))
    assert payload["edges_upserted"][0]["from"] == "db"


def test_a_newer_schema_version_is_refused() -> None:
    payload = json.loads(encode_event(EXAMPLES[1]))
    payload["schema_version"] = 9
    with pytest.raises(SchemaVersionError, match="schema_version 9"):
        decode_event(json.dumps(payload).encode())


@pytest.mark.parametrize("data", [b"not json", b"[1]", b'{"type": "mystery"}'])
def test_garbage_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(EventDecodeError):
        decode_event(data)


def test_an_invalid_event_names_the_problem() -> None:
    payload = json.loads(encode_event(EXAMPLES[1]))
    del payload["costs"]
    with pytest.raises(EventDecodeError, match="invalid node_costs_reported"):
        decode_event(json.dumps(payload).encode())


def test_allocation_computed_of_version_1_is_read_with_its_rows() -> None:
    event = EXAMPLES[[e.type for e in EXAMPLES].index("allocation_computed")]
    payload = json.loads(encode_event(event))
    assert payload["nodes"] == [["db", 10, 0, 10, 10, 0]]  # version 2: arrays
    keys = ("node", "direct", "indirect", "holistic", "allocated_out", "retained")
    payload["schema_version"] = 1
    payload["nodes"] = [dict(zip(keys, row, strict=True)) for row in payload["nodes"]]
    assert decode_event(json.dumps(payload).encode()) == event


def test_node_rows_encoded_elsewhere_make_the_same_event() -> None:
    event = next(e for e in EXAMPLES if isinstance(e, AllocationComputed))
    rows = json.dumps([list(row) for row in event.nodes]).encode()
    envelope = event.model_copy(update={"nodes": []})
    assert decode_event(encode_with_node_rows(envelope, rows)) == event
    empty = decode_event(encode_with_node_rows(envelope, b"[]"))
    assert isinstance(empty, AllocationComputed) and empty.nodes == []
