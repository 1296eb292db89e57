"""Property: whatever the lines, node costs conserve every accepted micro-unit."""

from __future__ import annotations

import csv
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from finops.domain.focus.mapping import MappingRules
from tests.unit.focus.batches import costs_of, run

HEADER = [
    "BilledCost",
    "BillingPeriodStart",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ProviderName",
    "ServiceCategory",
    "Tags",
]
RULES = MappingRules.model_validate(
    {"rules": [{"when": {"Tags.team": "*"}, "node": "{Tags.team}"}]}
)
START = datetime(2024, 9, 1, tzinfo=UTC)

line = st.tuples(
    st.decimals(min_value=-1000, max_value=1000, places=8, allow_nan=False),
    st.integers(0, 29 * 24),
    st.integers(0, 40 * 24),
    st.sampled_from(["AWS", "Microsoft"]),
    st.sampled_from(["Compute", "Storage"]),
    st.sampled_from(["NULL", '{"team": "a"}', '{"team": "b", " team": "c"}']),
)


def _write(path: Path, lines: list[tuple[Decimal, int, int, str, str, str]]) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for cost, start, hours, provider, category, tags in lines:
            begin = START + timedelta(hours=start)
            end = begin + timedelta(hours=hours)
            stamps = [f"{t:%Y-%m-%dT%H:%M:%SZ}" for t in (START, begin, end)]
            writer.writerow([str(cost), *stamps, provider, category, tags])


@settings(max_examples=40, deadline=None)
@given(st.lists(line, min_size=1, max_size=40))
def test_node_costs_conserve_every_line(
    lines: list[tuple[Decimal, int, int, str, str, str]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bill.csv"
        _write(path, lines)
        batches = run(path, RULES)
    assert [r for b in batches for r in b.rejects] == []
    expected = sum(
        int(cost.quantize(Decimal("0.000001"), ROUND_HALF_EVEN) * 1_000_000)
        for cost, *_ in lines
    )
    costs = costs_of(batches)
    assert sum(costs.values()) == expected
    assert {node for node, _, _ in costs} <= {"a", "b", "unmapped"}
    first = START.date().isoformat()
    assert all(day >= first for _, day, _ in costs)
