"""The prototype's provider CSVs map to FOCUS through column-mapping profiles."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.summary import summarize_files
from finops.errors import InputError
from tests.unit.focus.batches import costs_of, run
from tests.unit.focus.conftest import DATA


@pytest.mark.parametrize(
    ("name", "provider", "total"),
    [
        ("aws.csv", "AWS", 415_500_001),
        ("azure.csv", "Microsoft", 311_000_000),
        ("snowflake.csv", "Snowflake", 643_000_000),
    ],
)
def test_each_provider_csv_is_read_as_focus(
    name: str, provider: str, total: int
) -> None:
    rules = MappingRules.model_validate(
        {"rules": [{"when": {"ProviderName": "*"}, "node": "{ProviderName}"}]}
    )
    batches = run(DATA / name, rules)
    assert batches[0].layout == f"provider CSV ({name.removesuffix('.csv')})"
    costs = costs_of(batches)
    assert {node for node, _, _ in costs} == {provider}
    assert sum(costs.values()) == total
    # Monthly charges are spread over the 31 days of January.
    assert {day for _, day, _ in costs} == {f"2025-01-{d:02d}" for d in range(1, 32)}


def test_the_environment_is_a_tag_and_a_column(rules: MappingRules) -> None:
    costs = costs_of(run(DATA / "aws.csv", rules))
    by_node: dict[str, int] = {}
    for (node, _, _), micros in costs.items():
        by_node[node] = by_node.get(node, 0) + micros
    assert by_node == {"AWS_prod": 295_500_000, "unmapped": 120_000_001}
    assert ("AWS_prod", "2025-01-01", "Compute") in costs
    assert costs[("unmapped", "2025-01-01", "Databases")] == 3_870_968


def test_the_profile_can_be_named_when_the_file_name_does_not_say(
    rules: MappingRules, tmp_path: Path
) -> None:
    renamed = tmp_path / "january.csv"
    renamed.write_bytes((DATA / "azure.csv").read_bytes())
    with pytest.raises(InputError, match="provider CSV"):
        run(renamed, rules)
    assert costs_of(run(renamed, rules, profile="azure"))


def test_a_summary_of_provider_csvs() -> None:
    summary = summarize_files([DATA / "aws.csv", DATA / "azure.csv"])
    assert summary.spend["provider"] == {
        "AWS": Decimal("415.500001"),
        "Microsoft": Decimal("311.00"),
    }
    assert summary.spend["charge_category"]["Credit"] == Decimal("-50.00")
    assert summary.tagged_rows == 6
