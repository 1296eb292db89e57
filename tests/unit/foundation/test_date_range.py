"""Charge dates outside 2000-01-01..2099-12-31 are refused at every edge.

Regression: a schema-valid event dated 9999-12-30 stalled the allocator's router for
good ("batch is read again in 1 s"); 9999-12-31 in a file gave HTTP 500.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from finops.contracts.codec import decode_event, encode_event
from finops.contracts.events import NodeCostsReported
from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.usage import read_usage
from finops.domain.periods import FIRST_DAY, LAST_DAY, day_problem
from finops.domain.records import NodeCost, UsageRecord
from finops.errors import EventDecodeError, InputError
from finops.formats.costfile import load_costs
from finops.formats.inputfiles import load_usage
from ingest.formats import node_cost_batches
from tests.unit.focus.batches import costs_of, run


@pytest.mark.parametrize(
    ("day", "ok"),
    [
        (FIRST_DAY, True),
        (LAST_DAY, True),
        (date(1999, 12, 31), False),
        (date(9999, 12, 30), False),
    ],
)
def test_day_problem_and_records(day: date, ok: bool) -> None:
    assert (day_problem(day) is None) is ok
    if ok:
        NodeCost(node="a", date=day, dimension="c", amount_micros=1)
        return
    with pytest.raises(ValidationError):
        NodeCost(node="a", date=day, dimension="c", amount_micros=1)
    with pytest.raises(ValidationError):
        UsageRecord(node="a", date=day, metric="m", value=1.0)


def test_an_event_dated_9999_does_not_decode() -> None:
    good = NodeCostsReported(
        event_id=uuid.uuid4(),
        occurred_at=datetime(2025, 3, 2, tzinfo=UTC),
        source="s",
        costs=[
            NodeCost(node="a", date=date(2025, 3, 1), dimension="c", amount_micros=1)
        ],
    )
    payload = json.loads(encode_event(good))
    payload["costs"][0]["date"] = "9999-12-30"
    with pytest.raises(EventDecodeError, match=r"costs\.0\.date"):
        decode_event(json.dumps(payload).encode())


@pytest.mark.parametrize("reader", [load_costs, load_usage])
def test_files_for_finops_allocate_name_the_line(
    tmp_path: Path, reader: Callable[[Path], object]
) -> None:
    path = tmp_path / "f.csv"
    if reader is load_costs:
        path.write_text(
            "node,date,dimension,amount\na,2025-03-01,c,1\na,9999-12-31,c,1\n"
        )
    else:
        path.write_text("node,date,metric,value\na,2025-03-01,m,1\na,9999-12-31,m,1\n")
    with pytest.raises(InputError) as caught:
        reader(path)
    assert (caught.value.line, caught.value.field) == (3, "date")
    assert "9999-12-31 is outside 2000-01-01..2099-12-31" in str(caught.value)


def test_uploaded_rows_outside_the_range_are_rejected(tmp_path: Path) -> None:
    costs = tmp_path / "c.csv"
    costs.write_text("node,date,dimension,amount\na,2025-03-01,c,1\na,9999-12-30,c,1\n")
    [batch] = node_cost_batches(costs, source="s")
    assert [(r.line, r.reason.split(":")[0]) for r in batch.rejects] == [
        (3, "date outside 2000-01-01..2099-12-31")
    ]
    usage = tmp_path / "u.csv"
    usage.write_text("node,date,metric,value\na,2025-03-01,m,1\na,1970-01-01,m,1\n")
    records, rejects = read_usage(usage)
    assert len(records) == 1
    assert [(r.line, r.reason) for r in rejects] == [
        (3, "date 1970-01-01 is outside 2000-01-01..2099-12-31")
    ]


def test_a_bill_line_outside_the_range_is_rejected(tmp_path: Path) -> None:
    header = (
        "BilledCost,BillingAccountId,BillingCurrency,BillingPeriodStart,"
        "ChargePeriodStart,ChargePeriodEnd,ProviderName,ServiceCategory"
    )
    rows = [
        f"{cost},a,USD,{y}-04-01T00:00:00Z,{y}-04-01T00:00:00Z,{y}-04-02T00:00:00Z,"
        "AWS,Compute"
        for cost, y in (("1", 2025), ("2", 2150))
    ]
    path = tmp_path / "bill.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    rules = MappingRules.model_validate({"rules": [], "default_node": "n"})
    batches = run(path, rules)
    assert [(r.line, r.reason) for b in batches for r in b.rejects] == [
        (3, "charge period outside 2000-01-01..2099-12-31")
    ]
    assert costs_of(batches) == {("n", "2025-04-01", "Compute"): 1_000_000}
