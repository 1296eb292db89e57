"""Node costs are rounded once (issue 16): exact parts summed per unit of
restatement, node, day and dimension, then rounded half to even."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from finops.domain.focus.aggregate import (
    UNIT_COSTS_SCHEMA,
    CostTotals,
    round_exact,
    round_provider_totals,
    rounded_costs,
)
from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.normalize import costs_from_lines
from finops.domain.focus.offline import normalize_paths
from tests.unit.focus.batches import MICRO, PICO, costs_of, run

HEADER = (
    "ProviderName,BillingAccountId,BillingPeriodStart,ChargePeriodStart,"
    "ChargePeriodEnd,BilledCost,ServiceCategory\n"
)
RULES = MappingRules.model_validate({"default_node": "n"})


def _bill(tmp_path: Path, *rows: str, name: str = "bill.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{r}\n" for r in rows))
    return path


def _row(cost: str, *, account: str = "a1", day: int = 1, days: int = 1) -> str:
    start, end = f"2024-09-{day:02d}", f"2024-09-{day + days:02d}"
    return f"AWS,{account},2024-09-01,{start},{end},{cost},Compute"


@given(
    st.integers(-(10**15), 10**15),
    st.integers(-(10**9), 10**9),
)
def test_rounding_is_half_to_even_over_the_whole_amount(
    micros: int, picos: int
) -> None:
    exact = Decimal(micros) * MICRO + Decimal(picos) * PICO
    want = int(exact.quantize(MICRO, ROUND_HALF_EVEN) / MICRO)
    got = round_exact(np.array([micros], np.int64), np.array([picos], np.int64))
    assert int(got[0]) == want


def test_a_half_rounds_to_the_even_micro_unit() -> None:
    got = round_exact(
        np.array([1, 2, -1, -2], np.int64), np.array([500_000] * 2 + [-500_000] * 2)
    )
    assert got.tolist() == [2, 2, -2, -2]
    # a provider total of 0.0000015 is 0.000002 (the parity of the whole amount)
    assert round_provider_totals({"AWS": 1}, {"AWS": 500_000}) == {"AWS": 2}


def test_sub_micro_lines_of_one_node_day_add_up_before_rounding(
    tmp_path: Path,
) -> None:
    # three lines of 0.0000004: each rounds to 0, their sum 0.0000012 to 0.000001
    path = _bill(tmp_path, *[_row("0.0000004")] * 3)
    assert costs_of(run(path, RULES)) == {("n", "2024-09-01", "Compute"): 1}


def test_each_unit_of_restatement_is_rounded_by_itself(tmp_path: Path) -> None:
    # Two billing accounts (two sources, as ingest stores them): 0.0000004 + 0.0000004
    # per account rounds to 0.000001 each; normalize adds the rounded sums.
    path = _bill(
        tmp_path,
        *[_row("0.0000004", account="a1")] * 2,
        *[_row("0.0000004", account="a2")] * 2,
    )
    result = normalize_paths([path], RULES)
    assert result.costs["amount_micros"].to_pylist() == [2]


def test_a_unit_spread_over_files_is_rounded_once(tmp_path: Path) -> None:
    first = _bill(tmp_path, _row("0.0000003"), name="one.csv")
    second = _bill(tmp_path, _row("0.0000003"), name="two.csv")
    result = normalize_paths([first, second], RULES)
    assert result.costs["amount_micros"].to_pylist() == [1]


def test_a_multi_day_line_keeps_its_exact_parts(tmp_path: Path) -> None:
    # 3.0000005 over 3 days and 0.0000005 on the last day: 3.0000005 is 3.000000
    # and 0.5 micro-unit below it, so the parts are 1.000000 + 1/6 micro-unit each
    # (in picos: 166,667, 166,667, 166,666), plus 0.5 on day 3
    path = _bill(tmp_path, _row("3.0000005", days=3), _row("0.0000005", day=3))
    batches = run(path, RULES, keep_lines=True)
    assert costs_of(batches) == {
        ("n", "2024-09-01", "Compute"): 1_000_000,
        ("n", "2024-09-02", "Compute"): 1_000_000,
        ("n", "2024-09-03", "Compute"): 1_000_001,  # 1.00000066..: rounds up
    }
    lines = pa.concat_tables([b.lines for b in batches if b.lines is not None])
    rebuilt = costs_from_lines(lines)
    assert rebuilt.to_pylist() == rounded_costs(batches[0].unit_costs).to_pylist()
    assert batches[0].unit_costs["period"].to_pylist() == [date(2024, 9, 1)] * 3


unit_rows = st.lists(
    st.tuples(
        st.sampled_from(["s1", "s2", "s3"]),
        st.sampled_from(["a", "b"]),
        st.integers(-(10**9), 10**9),
        st.sampled_from([0, 0, 500_000, -500_000, 1, 999_999, -123_456]),
    ),
    max_size=40,
)


@given(unit_rows, st.integers(1, 5))
def test_running_totals_round_each_unit_once_whatever_the_batches(
    rows: list[tuple[str, str, int, int]], batches: int
) -> None:
    """CostTotals (merging partial sums) equals rounding each (unit, node) sum once
    in Decimal and adding the rounded sums per node. Whole micro-units of a unit
    may not be added outside it: half to even depends on the whole sum's parity
    (1 + 0.5 micro-units is 2, 1 + round(0.5) is 1)."""
    day = date(2024, 9, 1)
    exact: dict[tuple[str, str], Decimal] = {}
    for source, node, micros, picos in rows:
        key = (source, node)
        exact[key] = exact.get(key, Decimal(0)) + micros * MICRO + picos * PICO
    want: dict[str, int] = {}
    for (_, node), value in exact.items():
        rounded = int(value.quantize(MICRO, ROUND_HALF_EVEN) / MICRO)
        want[node] = want.get(node, 0) + rounded
    totals = CostTotals()
    for part in range(batches):
        chosen = rows[part::batches]
        totals.add(
            pa.table(
                {
                    "source": [r[0] for r in chosen],
                    "period": pa.array([day] * len(chosen), pa.date32()),
                    "node": [r[1] for r in chosen],
                    "date": pa.array([day] * len(chosen), pa.date32()),
                    "dimension": ["c"] * len(chosen),
                    "amount_micros": pa.array([r[2] for r in chosen], pa.int64()),
                    "amount_picos": pa.array([r[3] for r in chosen], pa.int64()),
                },
                schema=UNIT_COSTS_SCHEMA,
            )
        )
    got = {r["node"]: r["amount_micros"] for r in totals.result().to_pylist()}
    assert got == want
