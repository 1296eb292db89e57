"""Property: whatever the lines, node costs conserve every accepted micro-unit."""

from __future__ import annotations

import csv
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import example, given, settings
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

_WHERE_AND_WHAT = (
    st.integers(0, 29 * 24),
    st.integers(0, 40 * 24),
    st.sampled_from(["AWS", "Microsoft"]),
    st.sampled_from(["Compute", "Storage"]),
    st.sampled_from(["NULL", '{"team": "a"}', '{"team": "b", " team": "c"}']),
)
line = st.tuples(
    st.decimals(min_value=-1000, max_value=1000, places=8, allow_nan=False),
    *_WHERE_AND_WHAT,
)
whole_micros = st.tuples(
    st.decimals(min_value=-1000, max_value=1000, places=6, allow_nan=False),
    *_WHERE_AND_WHAT,
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


def _node_costs(
    lines: list[tuple[Decimal, int, int, str, str, str]],
) -> dict[tuple[str, str, str], int]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bill.csv"
        _write(path, lines)
        batches = run(path, RULES)
    assert [r for b in batches for r in b.rejects] == []
    costs = costs_of(batches)
    assert {node for node, _, _ in costs} <= {"a", "b", "unmapped"}
    first = START.date().isoformat()
    assert all(day >= first for _, day, _ in costs)
    return costs


@settings(max_examples=40, deadline=None)
@given(st.lists(line, min_size=1, max_size=40))
@example(  # 0.0000001 + 0.0000014: 0.0000015 rounds once to 2 micro-units, not 0 + 1
    [
        (Decimal("0.0000001"), 0, 0, "AWS", "Compute", "NULL"),
        (Decimal("0.0000014"), 0, 0, "AWS", "Compute", "NULL"),
    ]
)
def test_node_costs_are_the_exact_sum_rounded_once_per_node_day(
    lines: list[tuple[Decimal, int, int, str, str, str]],
) -> None:
    """Lines below the micro-unit are carried exactly and each sum of a source's
    (node, day, dimension) is rounded once: the total moves from the lines' exact
    total by at most half a micro-unit per such sum (here a node-day holds one per
    provider, two at most)."""
    costs = _node_costs(lines)
    exact = sum((line[0] for line in lines), Decimal(0)) * 1_000_000
    assert abs(sum(costs.values()) - exact) <= len(costs)


@settings(max_examples=40, deadline=None)
@given(st.lists(whole_micros, min_size=1, max_size=40))
def test_node_costs_conserve_every_micro_unit_of_whole_micro_lines(
    lines: list[tuple[Decimal, int, int, str, str, str]],
) -> None:
    """Lines in whole micro-units: not one micro-unit gained or lost."""
    costs = _node_costs(lines)
    assert sum(costs.values()) == sum(int(line[0] * 1_000_000) for line in lines)
