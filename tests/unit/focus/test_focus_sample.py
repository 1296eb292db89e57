"""The official FOCUS 1.0 sample ingests with every quirk handled."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from finops.domain.focus.aggregate import round_provider_totals
from finops.domain.focus.linetable import to_cost_records
from finops.domain.focus.mapping import MappingRules, load_rules
from finops.domain.focus.normalize import NormalizedBatch
from finops.domain.focus.offline import normalize_paths
from finops.domain.focus.summary import summarize_files
from tests.unit.focus.batches import costs_of, run
from tests.unit.focus.conftest import ROOT

BY_PROVIDER = MappingRules.model_validate(
    {"rules": [{"when": {"ProviderName": "*"}, "node": "{ProviderName}"}]}
)
MICRO = Decimal("0.000001")


def _independent_totals(path: Path) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Per provider: sum of each line rounded to micro-units, and the exact sum."""
    rounded: dict[str, Decimal] = defaultdict(Decimal)
    exact: dict[str, Decimal] = defaultdict(Decimal)
    with path.open(newline="") as data:
        for row in csv.DictReader(data):
            cost = Decimal(row["BilledCost"])
            rounded[row["ProviderName"]] += cost.quantize(MICRO, ROUND_HALF_EVEN)
            exact[row["ProviderName"]] += cost
    return rounded, exact


def _independent_node_costs(path: Path) -> dict[str, int]:
    """Per provider (the node of BY_PROVIDER): the sample's exact costs summed per
    unit of restatement (provider:billing account, billing period), day and
    dimension (ServiceCategory), each sum rounded half to even once, then added."""
    groups: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
    with path.open(newline="") as data:
        for row in csv.DictReader(data):
            provider = row["ProviderName"]
            start = datetime.fromisoformat(row["ChargePeriodStart"].rstrip("Z"))
            end = datetime.fromisoformat(row["ChargePeriodEnd"].rstrip("Z"))
            assert (end - timedelta(microseconds=1)).date() == start.date()
            unit = (f"{provider}:{row['BillingAccountId']}", row["BillingPeriodStart"])
            key = (*unit, provider, start.date().isoformat(), row["ServiceCategory"])
            groups[key] += Decimal(row["BilledCost"])
    nodes: dict[str, int] = defaultdict(int)
    for group, cost in groups.items():
        nodes[group[2]] += int(cost.quantize(MICRO, ROUND_HALF_EVEN) / MICRO)
    return dict(nodes)


@pytest.fixture
def batches(sample: Path) -> list[NormalizedBatch]:
    return run(sample, BY_PROVIDER, keep_lines=True)


def _lines(batches: list[NormalizedBatch]) -> pa.Table:
    return pa.concat_tables([b.lines for b in batches if b.lines is not None])


def test_every_row_is_accepted(batches: list[NormalizedBatch]) -> None:
    assert sum(b.rows_read for b in batches) == 1000
    assert [r for b in batches for r in b.rejects] == []
    assert batches[0].layout == "FOCUS 1.0"


def test_provider_totals_match_an_independent_sum(
    sample: Path, batches: list[NormalizedBatch]
) -> None:
    rounded, exact = _independent_totals(sample)
    by_batch: dict[str, int] = defaultdict(int)
    picos: dict[str, int] = defaultdict(int)
    for batch in batches:
        for provider, micros in batch.provider_totals.items():
            by_batch[provider] += micros
        for provider, left in batch.provider_picos.items():
            picos[provider] += left
    assert {p: Decimal(v) * MICRO for p, v in by_batch.items()} == rounded
    # The reported totals add back what each line's rounding took off, and round
    # once (issue 16): AWS 18.006639, the exact 18.0066386184 (not 18.006628).
    reported = round_provider_totals(by_batch, picos)
    assert reported == {
        p: int(v.quantize(MICRO, ROUND_HALF_EVEN) / MICRO) for p, v in exact.items()
    }
    assert reported["AWS"] == 18_006_639


def test_node_costs_round_once_per_node_day_and_dimension(
    sample: Path, batches: list[NormalizedBatch]
) -> None:
    """Issue 16: lines are no longer rounded before they are summed. AWS's node
    costs were 18.006628 (each of its sub-micro lines rounded); now each (unit,
    node, day, dimension) sum of exact costs is rounded once: 18.006638, against
    the exact 18.0066386184 (180 sums, each within half a micro-unit)."""
    totals: dict[str, int] = defaultdict(int)
    for (node, _, _), micros in costs_of(batches).items():
        totals[node] += micros
    assert totals == _independent_node_costs(sample)
    assert totals == {"AWS": 18_006_638, "Microsoft": 1_976_516, "Oracle": 537_074}
    offline = normalize_paths([sample], BY_PROVIDER).costs.to_pylist()
    assert {
        (r["node"], r["date"].isoformat(), r["dimension"]): r["amount_micros"]
        for r in offline
    } == costs_of(batches)


def test_credit_rows_flow_as_negative_costs(
    sample: Path, batches: list[NormalizedBatch]
) -> None:
    with sample.open(newline="") as data:
        credits = {
            line: int(
                Decimal(row["BilledCost"]).quantize(MICRO, ROUND_HALF_EVEN) / MICRO
            )
            for line, row in enumerate(csv.DictReader(data), start=2)
            if row["BilledCost"].startswith("-")
        }
    assert len(credits) == 13
    rows = {r["line"]: r["cost_micros"] for r in _lines(batches).to_pylist()}
    assert {line: rows[line] for line in credits} == credits
    assert rows[458] == -2_613_700
    assert sum(1 for line in credits if rows[line] < 0) == 9  # 4 round to 0 micros


def test_quirks_of_the_sample_are_handled(batches: list[NormalizedBatch]) -> None:
    lines = _lines(batches)
    rows = {r["line"]: r for r in lines.to_pylist()}
    microsoft = [r for r in rows.values() if r["provider"] == "Microsoft"]
    assert len(microsoft) == 51
    # Daily Microsoft rows stay on their day; NULL and "" are null.
    assert all(
        (r["charge_period_end"] - r["charge_period_start"]).days == 1 for r in microsoft
    )
    oracle = [r for r in rows.values() if r["provider"] == "Oracle"]
    assert len(oracle) == 7 and all(r["effective_cost_micros"] == 0 for r in oracle)
    assert all(r["contracted_cost_micros"] is None for r in oracle)
    assert all(r["sub_account_id"] is not None for r in oracle)
    assert "Id" not in lines.column_names


def test_duplicated_tag_keys_of_microsoft_rows_parse(
    batches: list[NormalizedBatch],
) -> None:
    lines = _lines(batches)
    microsoft = lines.filter(pc.equal(lines["provider"], "Microsoft")).slice(0, 5)
    records = list(to_cost_records(microsoft, file="focus_sample.csv"))
    tagged = [r for r in records if r.tags]
    assert tagged and all(r.tags.get("org") == "trey" for r in tagged)
    assert all(r.node == "Microsoft" for r in records)


def test_the_example_rules_map_the_sample_to_graph_nodes(sample: Path) -> None:
    rules = load_rules(ROOT / "examples" / "rules" / "focus_sample.yaml")
    costs = costs_of(run(sample, rules))
    nodes = {node for node, _, _ in costs}
    assert {"shared_databases", "shared_network", "azure_toolkit_tests"} <= nodes
    assert any(node.startswith("app_") for node in nodes)
    # Rounded once per node, day and dimension (20.520216 when each line was
    # rounded; the exact sum of the sample is 20.5202267...).
    assert sum(costs.values()) == 20_520_225


def test_the_summary_matches_the_exact_sum_of_the_file(sample: Path) -> None:
    _, exact = _independent_totals(sample)
    summary = summarize_files([sample])
    assert summary.spend["provider"] == exact
    assert summary.to_dict()["spend"]["provider"] == {
        "AWS": "18.006639",
        "Microsoft": "1.976514",
        "Oracle": "0.537074",
    }
    assert summary.rows == 1000 and summary.unreadable == 0
    assert summary.spend["charge_category"]["Credit"] == Decimal("-2.6137")


def test_tag_coverage_counts_charges_not_credits(sample: Path) -> None:
    summary = summarize_files([sample])
    assert 0 < summary.tag_coverage() <= 1
    assert summary.tagged_rows == 711
    assert summary.tagged_charges <= summary.charges
