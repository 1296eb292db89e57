"""AWS Cost and Usage Reports become FOCUS lines; totals equal an independent sum."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from finops.domain.focus.linetable import line_key
from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.normalize import NormalizedBatch
from finops.domain.focus.restatement import (
    Delivery,
    PartitionKey,
    Statement,
    apply_delivery,
)
from finops.domain.focus.summary import summarize_files
from finops.errors import InputError
from finops_tools.cli import app
from tests.support.cur_files import (
    LEGACY_COLUMNS,
    PAYER,
    CurRow,
    cur_rows,
    write_cur2_csv,
    write_cur2_parquet,
    write_legacy_csv,
)
from tests.unit.focus.batches import costs_of, day_parts, round_once, run
from tests.unit.focus.conftest import DATA

SEPTEMBER = date(2024, 9, 1)
MICRO = Decimal("0.000001")
WRITERS: dict[str, Callable[[list[CurRow], Path], Path]] = {
    "legacy.csv": write_legacy_csv,
    "legacy.csv.gz": write_legacy_csv,
    "cur2.parquet": write_cur2_parquet,
    "cur2.csv": write_cur2_csv,
}
LAYOUTS = {
    "legacy.csv": "AWS CUR (legacy)",
    "legacy.csv.gz": "AWS CUR (legacy)",
    "cur2.parquet": "AWS CUR 2.0",
    "cur2.csv": "AWS CUR 2.0",
}


def _cur(kind: str, tmp_path: Path, rows: list[CurRow] | None = None) -> Path:
    rows = cur_rows(SEPTEMBER) if rows is None else rows
    return WRITERS[kind](rows, tmp_path / kind)


def _rules(cost_column: str = "BilledCost", **extra: object) -> MappingRules:
    return MappingRules.model_validate({"cost_column": cost_column, **extra})


# The mapping of docs/ingest.md, written again here from the document.
def _billed(row: CurRow) -> Decimal:
    return Decimal(row["lineItem/NetUnblendedCost"] or row["lineItem/UnblendedCost"])


def _effective(row: CurRow) -> Decimal:
    kind = row["lineItem/LineItemType"]
    if kind == "SavingsPlanCoveredUsage":
        return Decimal(row["savingsPlan/SavingsPlanEffectiveCost"])
    if kind in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
        return Decimal(0)
    if kind == "SavingsPlanRecurringFee":
        return Decimal(row["savingsPlan/TotalCommitmentToDate"]) - Decimal(
            row["savingsPlan/UsedCommitment"]
        )
    if kind == "DiscountedUsage":
        return Decimal(row["reservation/EffectiveCost"])
    if kind == "RIFee":
        return Decimal(
            row["reservation/UnusedAmortizedUpfrontFeeForBillingPeriod"]
        ) + Decimal(row["reservation/UnusedRecurringFee"])
    if kind == "Fee" and row["reservation/ReservationARN"]:
        return Decimal(0)
    return Decimal(row["lineItem/UnblendedCost"])


def _category(row: CurRow) -> str:
    kind = row["lineItem/LineItemType"]
    if kind == "Tax":
        return "Tax"
    if kind in ("Credit", "Refund"):
        return "Credit"
    if kind.endswith("Fee"):
        return "Purchase"
    return "Usage"


def _per_line_micros(rows: Iterable[CurRow], cost: Callable[[CurRow], Decimal]) -> int:
    """Each line rounded half to even to micro-units, then summed."""
    return sum(int(cost(r).quantize(MICRO, ROUND_HALF_EVEN) * 1_000_000) for r in rows)


def _rounded_once(
    rows: list[CurRow],
    lines: pa.Table,
    cost: Callable[[CurRow], Decimal],
    node_of: Callable[[CurRow], str] | None = None,
) -> dict[str, int]:
    """Per node: exact parts summed per (source, period, node, day, dimension),
    each sum rounded half to even once, then added (issue 16)."""
    groups: dict[tuple[Any, ...], Decimal] = defaultdict(Decimal)
    for line in lines.to_pylist():
        start, end = line["charge_period_start"], line["charge_period_end"]
        days = max(1, -(-(end - start) // timedelta(days=1)))  # midnight-aligned
        row = rows[line["line"] - 2]  # the header is line 1
        node = line["node"] if node_of is None else node_of(row)
        unit = (line["source"], line["billing_period_start"], node)
        for day, part in day_parts(cost(row), start.date(), days):
            groups[(*unit, day, line["dimension"])] += part
    nodes: dict[str, int] = defaultdict(int)
    for key, exact in groups.items():
        nodes[key[2]] += round_once({key: exact})
    return dict(nodes)


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_every_cur_layout_and_file_kind_reads_as_the_same_focus_lines(
    kind: str, tmp_path: Path
) -> None:
    rules = _rules(
        "EffectiveCost", rules=[{"when": {"Tags.team": "*"}, "node": "{Tags.team}"}]
    )
    legacy = costs_of(run(_cur("legacy.csv", tmp_path), rules))
    batches = run(_cur(kind, tmp_path), rules)
    assert {b.layout for b in batches} == {LAYOUTS[kind]}
    assert costs_of(batches) == legacy
    assert not [r for b in batches for r in b.rejects]


@pytest.mark.parametrize("kind", sorted(WRITERS))
@pytest.mark.parametrize(
    ("cost_column", "cost"), [("BilledCost", _billed), ("EffectiveCost", _effective)]
)
def test_totals_equal_an_independent_decimal_sum(
    kind: str, cost_column: str, cost: Callable[[CurRow], Decimal], tmp_path: Path
) -> None:
    rows = cur_rows(SEPTEMBER)
    batches = run(_cur(kind, tmp_path, rows), _rules(cost_column), keep_lines=True)
    picos = sum(sum(b.provider_picos.values()) for b in batches)
    accepted = sum(sum(b.provider_totals.values()) for b in batches)
    assert accepted == _per_line_micros(rows, cost)
    exact = sum((cost(r) for r in rows), Decimal(0))
    assert Decimal(accepted) * MICRO + Decimal(picos) / 10**12 == exact
    # Node costs round once per node, day and dimension, not per line.
    lines = pa.concat_tables([b.lines for b in batches if b.lines is not None])
    assert sum(costs_of(batches).values()) == sum(
        _rounded_once(rows, lines, cost).values()
    )
    assert sum(b.rows_read for b in batches) == len(rows)


@pytest.mark.parametrize("kind", ["legacy.csv.gz", "cur2.parquet"])
def test_charge_categories_from_line_item_types_with_negative_credits(
    kind: str, tmp_path: Path
) -> None:
    rows = cur_rows(SEPTEMBER)
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        expected[_category(row)] += _billed(row)
    summary = summarize_files([_cur(kind, tmp_path, rows)])
    assert dict(summary.spend["charge_category"]) == dict(expected)
    assert summary.spend["charge_category"]["Credit"] < 0
    assert summary.total == sum(_billed(r) for r in rows)


@pytest.mark.parametrize("kind", ["legacy.csv", "cur2.parquet", "cur2.csv"])
def test_user_tags_map_to_nodes_in_both_layouts(kind: str, tmp_path: Path) -> None:
    rows = cur_rows(SEPTEMBER)
    rules = _rules(
        "EffectiveCost",
        rules=[{"when": {"Tags.team": "*"}, "node": "team-{Tags.team}"}],
        default_node="untagged",
    )
    by_node: dict[str, int] = defaultdict(int)
    batches = run(_cur(kind, tmp_path, rows), rules, keep_lines=True)
    for (node, _, _), micros in costs_of(batches).items():
        by_node[node] += micros

    def node_of(row: CurRow) -> str:
        team = row["resourceTags/user:team"]
        return f"team-{team}" if team else "untagged"

    lines = pa.concat_tables([b.lines for b in batches if b.lines is not None])
    assert dict(by_node) == _rounded_once(rows, lines, _effective, node_of)


def test_aws_tags_keep_their_prefix_and_values_with_quotes_survive(
    tmp_path: Path,
) -> None:
    rules = _rules(
        rules=[
            {"when": {"Tags.aws:createdBy": "*"}, "node": "by-{Tags.aws:createdBy}"},
            {"when": {"Tags.env": 'prod "eu"'}, "node": "eu"},
        ]
    )
    nodes = {n for n, _, _ in costs_of(run(_cur("legacy.csv", tmp_path), rules))}
    assert {"by-IAMUser:AIDA:deploy", "eu"} <= nodes


@pytest.mark.parametrize("kind", ["legacy.csv", "cur2.parquet"])
def test_split_cost_rows_add_nothing_to_the_bill_and_rules_can_match_them(
    kind: str, tmp_path: Path
) -> None:
    rows = cur_rows(SEPTEMBER)
    rules = _rules(
        rules=[
            {
                "when": {"x_SplitParentResourceId": "i-*"},
                "node": "pods-{x_SplitParentResourceId}",
            }
        ],
    )
    batches = run(_cur(kind, tmp_path, rows), rules, keep_lines=True)
    lines = [
        line for b in batches if b.lines is not None for line in b.lines.to_pylist()
    ]
    pods = [line for line in lines if line["node"] == "pods-i-shop"]
    assert len(pods) == sum(1 for r in rows if r["splitLineItem/ParentResourceId"])
    assert all(line["cost_micros"] == 0 for line in pods)
    assert all('"team": "shop"' in line["tags"] for line in pods)


def _delivery(name: str, batches: list[NormalizedBatch]) -> Delivery[int]:
    """The lines of a file per partition, as the store keeps them (key -> micros)."""
    partitions: dict[PartitionKey, dict[str, int]] = defaultdict(dict)
    for batch in batches:
        assert batch.lines is not None
        for line in batch.lines.to_pylist():
            key = (line["source"], line["billing_period_start"].date())
            partitions[key][line_key(name, line["line"])] = line["cost_micros"]
    return Delivery(name, partitions)


def test_a_restated_month_replaces_the_first_delivery(tmp_path: Path) -> None:
    rules = _rules()
    first_rows, restated_rows = (
        cur_rows(SEPTEMBER),
        cur_rows(SEPTEMBER, restated=True),
    )
    october_rows = cur_rows(date(2024, 10, 1))
    state: dict[PartitionKey, Statement[int]] = {}
    for name, rows in (
        ("first", first_rows),
        ("october", october_rows),
        ("restated", restated_rows),
    ):
        path = write_legacy_csv(rows, tmp_path / f"{name}.csv")
        state = apply_delivery(
            state, _delivery(name, run(path, rules, keep_lines=True))
        )
    september, october = (
        (f"AWS:{PAYER}", SEPTEMBER),
        (f"AWS:{PAYER}", date(2024, 10, 1)),
    )
    assert set(state) == {september, october}
    assert state[september].content_hash == "restated"
    assert sum(state[september].lines.values()) == _per_line_micros(
        restated_rows, _billed
    )
    assert sum(state[october].lines.values()) == _per_line_micros(october_rows, _billed)
    assert _per_line_micros(restated_rows, _billed) != _per_line_micros(
        first_rows, _billed
    )


def test_format_cur_refuses_a_file_that_is_not_a_cur(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not an AWS Cost and Usage Report"):
        run(DATA / "focus_1_1.csv", _rules(), bill_format="cur")


def test_a_cur_missing_a_required_column_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "cur.csv"
    header = [c for c in LEGACY_COLUMNS if c != "lineItem/UsageEndDate"]
    path.write_text(",".join(header) + "\n")
    with pytest.raises(
        InputError,
        match="AWS CUR \\(legacy\\) without required columns: lineItem/UsageEndDate",
    ):
        run(path, _rules())


def test_a_bad_cost_is_rejected_naming_the_cur_column(tmp_path: Path) -> None:
    rows = cur_rows(SEPTEMBER)[:3]
    rows[1] = rows[1] | {
        "lineItem/UnblendedCost": "abc",
        "lineItem/NetUnblendedCost": "",
    }
    rows[2] = rows[2] | {"lineItem/UsageStartDate": "2024-09-31T00:00:00Z"}
    batches = run(write_legacy_csv(rows, tmp_path / "cur.csv"), _rules())
    reasons = [(r.line, r.reason) for b in batches for r in b.rejects]
    assert reasons == [
        (
            3,
            "BilledCost (from lineItem/NetUnblendedCost or lineItem/UnblendedCost) "
            "is not a number: 'abc'",
        ),
        (
            4,
            "ChargePeriodStart (from lineItem/UsageStartDate) is not a valid "
            "timestamp: '2024-09-31T00:00:00Z'",
        ),
    ]


def test_focus_summary_with_format_cur(tmp_path: Path) -> None:
    path = _cur("cur2.parquet", tmp_path)
    result = CliRunner().invoke(
        app, ["focus", "summary", str(path), "--format", "cur", "--json"]
    )
    assert result.exit_code == 0, result.output
    refused = CliRunner().invoke(
        app, ["focus", "summary", str(DATA / "focus_1_1.csv"), "--format", "cur"]
    )
    assert isinstance(refused.exception, InputError)
    assert "not an AWS Cost and Usage Report" in str(refused.exception)
