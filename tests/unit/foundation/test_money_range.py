"""Money never wraps: amounts beyond the supported range are refused, per row or whole.

Regression: two rows of 9e12 gave a negative total (-446,744,073,709.551616) in
ingest and from `finops allocate`; one of 9,223,372,036,854.775807 was accepted and
then could not be stored.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import numpy as np
import pyarrow as pa
import pytest

from finops.contracts.codec import decode_event, encode_event
from finops.contracts.events import NodeCostsReported
from finops.domain.focus.aggregate import COSTS_SCHEMA, sum_costs
from finops.domain.focus.mapping import MappingRules
from finops.domain.money import (
    MAX_AMOUNT_MICROS,
    SUM_LIMIT_MICROS,
    check_summable,
    out_of_range,
)
from finops.domain.records import NodeCost
from finops.errors import EventDecodeError, InputError, MoneyRangeError
from finops.formats.costfile import load_costs
from ingest.formats import node_cost_batches
from tests.unit.focus.batches import costs_of, run

HEADER = "node,date,dimension,amount\n"


def test_the_range_fits_int64_with_room_for_sums() -> None:
    assert MAX_AMOUNT_MICROS < SUM_LIMIT_MICROS < 2**63 - 1
    amounts = np.array([MAX_AMOUNT_MICROS, -MAX_AMOUNT_MICROS - 1, 0], dtype=np.int64)
    assert out_of_range(amounts).tolist() == [False, True, False]


def test_check_summable_refuses_what_could_wrap() -> None:
    check_summable(np.full(4, MAX_AMOUNT_MICROS, dtype=np.int64))
    with pytest.raises(MoneyRangeError, match="beyond the supported"):
        check_summable(np.full(5, MAX_AMOUNT_MICROS, dtype=np.int64), file="f.csv")


@pytest.mark.parametrize(
    "amount", ["9000000000000", "9223372036854.775807", "-1000000000000.000001"]
)
def test_a_cost_row_outside_the_range_is_refused_with_its_line(
    tmp_path: Path, amount: str
) -> None:
    path = tmp_path / "costs.csv"
    path.write_text(f"{HEADER}vm,2025-03-01,c,1\nvm,2025-03-01,c,{amount}\n")
    with pytest.raises(MoneyRangeError) as caught:
        load_costs(path)
    assert (caught.value.line, caught.value.field) == (3, "amount")


def test_cost_rows_that_would_wrap_when_summed_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    rows = "".join("vm,2025-03-01,c,900000000000.5\n" for _ in range(6))
    path.write_text(HEADER + rows)
    with pytest.raises(MoneyRangeError, match="beyond the supported"):
        load_costs(path)
    rows = "".join("vm,2025-03-01,c,900000000000.000001\n" for _ in range(4))
    path.write_text(HEADER + rows)
    table = load_costs(path)  # inside the range: summed exactly
    assert int(table.micros.sum()) == 4 * 900_000_000_000_000_001
    assert sum(Decimal("900000000000.000001") for _ in range(4)) * 10**6 == int(
        table.micros.sum()
    )


@pytest.mark.parametrize("amount", ("9e12", "9.3e12", "-1e19"))
def test_a_bill_line_outside_the_range_is_rejected_and_the_rest_kept(
    tmp_path: Path, amount: str
) -> None:
    header = (
        "BilledCost,BillingAccountId,BillingCurrency,BillingPeriodStart,"
        "ChargePeriodStart,ChargePeriodEnd,ProviderName,ServiceCategory,Tags"
    )
    period = "2025-04-01T00:00:00Z,2025-04-01T00:00:00Z,2025-04-02T00:00:00Z"
    tags = json.dumps({"product": "shop"}).replace('"', '""')
    lines = [f'{cost},a,USD,{period},AWS,Compute,"{tags}"' for cost in (amount, "2")]
    path = tmp_path / "bill.csv"
    path.write_text("\n".join([header, *lines]) + "\n")
    rules = MappingRules.model_validate(
        {"rules": [{"when": {"Tags.product": "*"}, "node": "{Tags.product}"}]}
    )
    batches = run(path, rules)
    assert [(r.line, r.reason.split(" (")[0]) for b in batches for r in b.rejects] == [
        (2, "BilledCost is outside the supported range")
    ]
    assert costs_of(batches) == {("shop", "2025-04-01", "Compute"): 2_000_000}


# 9e12 fits int64 micro-units; the others do not (Arrow refuses them, and the exact
# retry once handed pyarrow an int past int64: the upload answered 500).
PAST_RANGE = ("9000000000000", "9300000000000", "-1e19")


@pytest.mark.parametrize("amount", PAST_RANGE)
def test_an_uploaded_node_cost_row_outside_the_range_is_rejected(
    tmp_path: Path, amount: str
) -> None:
    path = tmp_path / "c.csv"
    path.write_text(f"{HEADER}a,2024-09-01,c,{amount}\na,2024-09-01,c,1\n")
    [batch] = node_cost_batches(path, source="s")
    assert [(r.line, r.reason.split(" (")[0]) for r in batch.rejects] == [
        (2, "amount is outside the supported range")
    ]
    assert batch.costs["amount_micros"].to_pylist() == [1_000_000]


def test_summing_node_costs_refuses_to_wrap() -> None:
    table = pa.table(
        {
            "node": ["a"] * 5,
            "date": [date(2025, 1, 1)] * 5,
            "dimension": ["c"] * 5,
            "amount_micros": [MAX_AMOUNT_MICROS] * 5,
        },
        schema=COSTS_SCHEMA,
    )
    with pytest.raises(InputError, match="beyond the supported"):
        sum_costs(table)
    assert sum_costs(table.slice(0, 4))["amount_micros"].to_pylist() == [
        4 * MAX_AMOUNT_MICROS
    ]


def test_a_node_cost_event_outside_the_supported_range_does_not_decode() -> None:
    cost = NodeCost(node="db", date=date(2025, 1, 1), dimension="c", amount_micros=1)
    event = NodeCostsReported(
        event_id=uuid4(), occurred_at=datetime.now(UTC), source="s", costs=[cost]
    )
    text = encode_event(event).replace(
        b'"amount_micros":1', b'"amount_micros":%d' % (2**63 - 1)
    )
    with pytest.raises(EventDecodeError, match="amount_micros"):
        decode_event(text)
