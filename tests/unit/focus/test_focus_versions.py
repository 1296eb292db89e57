"""Each FOCUS version, as CSV, gzip CSV and Parquet, gives the same node costs."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.tags import parse_tags
from tests.unit.focus.batches import costs_of, run
from tests.unit.focus.conftest import DATA


def test_focus_1_1_with_iso_timestamps_and_lower_case_nulls(
    rules: MappingRules,
) -> None:
    batches = run(DATA / "focus_1_1.csv", rules)
    assert batches[0].layout == "FOCUS 1.1"
    assert costs_of(batches) == {
        ("payments_db", "2025-01-05", "Databases"): 12_500_000,
        ("search", "2025-01-05", "Compute"): 3_000_001,
        ("unmapped", "2025-01-05", "Compute"): -1_250_000,
    }


def test_focus_1_2_with_duplicated_tag_keys(rules: MappingRules) -> None:
    batches = run(DATA / "focus_1_2.csv", rules)
    assert batches[0].layout == "FOCUS 1.2"
    assert costs_of(batches) == {
        ("azure_lab_vms", "2025-02-09", "Compute"): 4_000_000,
        ("azure_other", "2025-02-09", "Storage"): 2_000_000,
    }


def test_focus_1_3_service_provider_and_a_monthly_charge(rules: MappingRules) -> None:
    batches = run(DATA / "focus_1_3.csv", rules)
    assert batches[0].layout == "FOCUS 1.3"
    costs = costs_of(batches)
    april = {k: v for k, v in costs.items() if k[0] == "analytics"}
    assert len(april) == 30
    assert sum(april.values()) == 30_000_003
    assert april[("analytics", "2025-04-01", "Databases")] == 1_000_001
    assert april[("analytics", "2025-04-03", "Databases")] == 1_000_001
    assert april[("analytics", "2025-04-04", "Databases")] == 1_000_000
    assert costs[("unmapped", "2025-04-10", "Storage")] == 1_500_000


def test_rules_naming_provider_name_work_on_focus_1_3(tmp_path: Path) -> None:
    rules = MappingRules.model_validate(
        {"rules": [{"when": {"ProviderName": "Snowflake"}, "node": "{ProviderName}"}]}
    )
    costs = costs_of(run(DATA / "focus_1_3.csv", rules))
    assert {node for node, _, _ in costs} == {"Snowflake"}


def test_gzip_csv_gives_the_same_costs(rules: MappingRules, tmp_path: Path) -> None:
    packed = tmp_path / "focus_1_1.csv.gz"
    with (DATA / "focus_1_1.csv").open("rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert costs_of(run(packed, rules)) == costs_of(run(DATA / "focus_1_1.csv", rules))


def _to_typed_parquet(csv_path: Path, parquet_path: Path) -> None:
    """Parquet with decimal and float costs, typed timestamps and a map of tags."""
    options = pcsv.ConvertOptions(
        null_values=["NULL", "null", ""], strings_can_be_null=True
    )
    table = pcsv.read_csv(csv_path, convert_options=options)
    tags = [
        list(parse_tags(t).items()) if t else None for t in table["Tags"].to_pylist()
    ]
    map_type = pa.map_(pa.string(), pa.string())
    table = table.set_column(
        table.schema.get_field_index("Tags"), "Tags", pa.array(tags, map_type)
    )
    billed = table["BilledCost"].cast(pa.string()).cast(pa.decimal128(38, 12))
    table = table.set_column(
        table.schema.get_field_index("BilledCost"), "BilledCost", billed
    )
    pq.write_table(table, parquet_path)


def test_parquet_with_typed_columns_gives_the_same_costs(
    rules: MappingRules, tmp_path: Path
) -> None:
    for name in ("focus_1_1.csv", "focus_1_2.csv", "focus_1_3.csv"):
        parquet = tmp_path / name.replace(".csv", ".parquet")
        _to_typed_parquet(DATA / name, parquet)
        assert costs_of(run(parquet, rules)) == costs_of(run(DATA / name, rules)), name


def test_parquet_with_literal_null_strings(rules: MappingRules, tmp_path: Path) -> None:
    options = pcsv.ConvertOptions(
        column_types={"BilledCost": pa.string(), "Tags": pa.string()},
        null_values=[],
        strings_can_be_null=False,
    )
    table = pcsv.read_csv(DATA / "focus_1_3.csv", convert_options=options)
    assert "NULL" in table["Tags"].to_pylist()
    pq.write_table(table, tmp_path / "f.parquet")
    assert costs_of(run(tmp_path / "f.parquet", rules)) == costs_of(
        run(DATA / "focus_1_3.csv", rules)
    )


def test_rules_can_use_custom_x_columns(tmp_path: Path) -> None:
    text = (DATA / "focus_1_2.csv").read_text().splitlines()
    rows = [text[0] + ",x_Team", text[1] + ",web", text[2] + ","]
    path = tmp_path / "custom.csv"
    path.write_text("\n".join(rows) + "\n")
    rules = MappingRules.model_validate(
        {"rules": [{"when": {"x_Team": "*"}, "node": "team_{x_Team}"}]}
    )
    assert costs_of(run(path, rules)) == {
        ("team_web", "2025-02-09", "Compute"): 4_000_000,
        ("unmapped", "2025-02-09", "Storage"): 2_000_000,
    }


def test_parquet_with_dictionary_and_large_string_columns(
    rules: MappingRules, tmp_path: Path
) -> None:
    options = pcsv.ConvertOptions(null_values=[], strings_can_be_null=False)
    table = pcsv.read_csv(DATA / "focus_1_1.csv", convert_options=options)
    for name in ("ProviderName", "BilledCost", "ChargePeriodStart", "Tags"):
        index = table.schema.get_field_index(name)
        column = table[name].cast(pa.string())
        encoded = column.dictionary_encode() if name != "Tags" else column
        table = table.set_column(index, name, encoded)
    index = table.schema.get_field_index("ResourceId")
    table = table.set_column(
        index, "ResourceId", table["ResourceId"].cast(pa.large_string())
    )
    pq.write_table(table, tmp_path / "dict.parquet")
    assert costs_of(run(tmp_path / "dict.parquet", rules)) == costs_of(
        run(DATA / "focus_1_1.csv", rules)
    )
