"""Mapping rules: first match wins, case-sensitive globs, templates, defaults."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from finops.domain.focus.mapping import (
    MappingRules,
    assign_nodes,
    glob_to_regex,
    load_rules,
    match_glob,
    render_dimension,
)
from finops.errors import ConfigError

COLUMNS = {
    "ResourceId": pa.array(["arn:aws:rds:eu-west-1:1:db/payments-a", "i-1", None, "x"]),
    "ServiceCategory": pa.array(["Databases", "Compute", "Compute", None]),
    "SubAccountId": pa.array(["a", "sub-lab", "sub-lab", "b"]),
    "Tags.product": pa.array([None, "search", None, None]),
}


def _lookup(name: str) -> pa.Array:
    return COLUMNS.get(name, pa.nulls(4, pa.string()))


def _rules(*rules: dict[str, object], **options: object) -> MappingRules:
    return MappingRules.model_validate({"rules": list(rules), **options})


def test_the_first_matching_rule_wins() -> None:
    rules = _rules(
        {"when": {"ResourceId": "arn:aws:rds:*:db/payments-*"}, "node": "payments_db"},
        {"when": {"Tags.product": "*"}, "node": "{Tags.product}"},
        {
            "when": {"SubAccountId": "sub-lab", "ServiceCategory": "Compute"},
            "node": "lab",
        },
        {"when": {"ServiceCategory": "*"}, "node": "late"},
    )
    nodes = assign_nodes(rules, _lookup, 4).to_pylist()
    assert nodes == ["payments_db", "search", "lab", "unmapped"]


def test_globs_are_case_sensitive_and_anchored() -> None:
    values = pa.array(["Compute", "compute", "xCompute", "Comp", None])
    assert match_glob(values, "Comp*").tolist() == [True, False, False, True, False]
    assert match_glob(values, "*ompute").tolist() == [True, True, True, False, False]
    assert match_glob(values, "[Cc]ompute").tolist() == [
        True,
        True,
        False,
        False,
        False,
    ]
    assert match_glob(values, "Comput?").tolist() == [True, False, False, False, False]


def test_a_star_means_present() -> None:
    assert match_glob(pa.array(["", "a", None]), "*").tolist() == [True, True, False]


def test_glob_metacharacters_of_regex_are_literal() -> None:
    assert glob_to_regex("a.b+(c)") == r"^(?s:a\.b\+\(c\))$"
    values = pa.array(["a.b+(c)", "aXb+(c)"])
    assert match_glob(values, "a.b+(c)*").tolist() == [True, False]


def test_a_template_rendering_empty_falls_back_to_the_default_node() -> None:
    rules = _rules({"when": {"SubAccountId": "*"}, "node": "{Tags.product}"})
    assert assign_nodes(rules, _lookup, 4).to_pylist() == [
        "unmapped",
        "search",
        "unmapped",
        "unmapped",
    ]


def test_the_dimension_is_a_template_and_empty_becomes_unspecified() -> None:
    rules = _rules(dimension="{ServiceCategory}/{SubAccountId}")
    assert render_dimension(rules, _lookup, 4).to_pylist()[:2] == [
        "Databases/a",
        "Compute/sub-lab",
    ]
    plain = _rules(dimension="{ServiceCategory}")
    assert render_dimension(plain, _lookup, 4).to_pylist()[3] == "unspecified"


def test_rules_name_every_column_they_read() -> None:
    rules = _rules(
        {"when": {"Tags.team": "*"}, "node": "{Tags.team}-{ServiceName}"},
        dimension="{ChargeCategory}",
    )
    assert rules.referenced_columns() == {"Tags.team", "ServiceName", "ChargeCategory"}


def test_a_rules_file_with_an_unknown_cost_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("cost_column: Price\n")
    with pytest.raises(ConfigError, match="cost_column"):
        load_rules(path)


def test_a_missing_rules_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read rules"):
        load_rules(tmp_path / "none.yaml")


def test_a_rule_without_conditions_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - when: {}\n    node: x\n")
    with pytest.raises(ConfigError, match=r"rules\.0\.when"):
        load_rules(path)


def test_numeric_yaml_values_are_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - when: {SubAccountId: 51738928782}\n    node: 42\n")
    rules = load_rules(path)
    assert rules.rules[0].when == {"SubAccountId": "51738928782"}
    assert rules.rules[0].node == "42"
