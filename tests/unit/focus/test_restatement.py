"""A re-delivery replaces what its source said for a period; a duplicate does not."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa

from finops.domain.focus.bills import identify_file
from finops.domain.focus.linetable import line_key
from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.normalize import costs_from_lines
from finops.domain.focus.restatement import (
    Delivery,
    PartitionKey,
    Statement,
    apply_delivery,
    partitions_of,
    plan_delivery,
)
from tests.unit.focus.batches import run
from tests.unit.focus.conftest import DATA

SEPT: PartitionKey = ("aws:1", date(2024, 9, 1))
OCT: PartitionKey = ("aws:1", date(2024, 10, 1))
AZURE_SEPT: PartitionKey = ("azure:2", date(2024, 9, 1))


def _delivery(content_hash: str, **lines: dict[str, int]) -> Delivery[int]:
    keys = {"sept": SEPT, "oct": OCT, "azure": AZURE_SEPT}
    return Delivery(content_hash, {keys[k]: v for k, v in lines.items()})


def test_a_redelivery_replaces_the_period_of_that_source_only() -> None:
    state = apply_delivery(
        {}, _delivery("h1", sept={"h1:2": 10, "h1:3": 5}, oct={"h1:4": 7})
    )
    state = apply_delivery(state, _delivery("h9", azure={"h9:2": 3}))
    state = apply_delivery(state, _delivery("h2", sept={"h2:2": 12}))
    assert state[SEPT] == Statement("h2", {"h2:2": 12})
    assert state[OCT] == Statement("h1", {"h1:4": 7})
    assert state[AZURE_SEPT] == Statement("h9", {"h9:2": 3})


def test_the_same_file_twice_changes_nothing() -> None:
    delivery = _delivery("h1", sept={"h1:2": 10}, oct={"h1:3": 1})
    once = apply_delivery({}, delivery)
    assert apply_delivery(once, delivery) == once
    plan = plan_delivery(
        {k: s.content_hash for k, s in once.items()}, "h1", [SEPT, OCT]
    )
    assert plan.is_duplicate and plan.unchanged == (SEPT, OCT)


def test_a_plan_lists_partitions_to_replace() -> None:
    plan = plan_delivery({SEPT: "h1", OCT: "h1"}, "h2", [SEPT, AZURE_SEPT])
    assert plan.replace == (SEPT, AZURE_SEPT)
    assert plan.unchanged == ()
    assert not plan.is_duplicate


def test_a_correction_to_zero_lines_empties_the_period() -> None:
    state = apply_delivery({}, _delivery("h1", sept={"h1:2": 10}))
    assert apply_delivery(state, _delivery("h2", sept={}))[SEPT] == Statement("h2", {})


def test_files_have_a_content_identity_and_lines_stable_keys(tmp_path: Path) -> None:
    copy = tmp_path / "renamed.csv"
    copy.write_bytes((DATA / "focus_1_1.csv").read_bytes())
    first, second = identify_file(DATA / "focus_1_1.csv"), identify_file(copy)
    assert first.content_hash == second.content_hash
    assert len(first.content_hash) == 64
    assert line_key(first.content_hash, 7) == f"{first.content_hash[:16]}:7"


def test_normalised_lines_name_their_partitions(rules: MappingRules) -> None:
    batches = run(DATA / "focus_1_1.csv", rules, keep_lines=True)
    lines = pa.concat_tables([b.lines for b in batches if b.lines is not None])
    assert partitions_of(lines) == {("AWS:acct-1", date(2025, 1, 1))}
    given = run(DATA / "focus_1_1.csv", rules, keep_lines=True, source="cur-export")
    assert given[0].lines is not None
    assert partitions_of(given[0].lines) == {("cur-export", date(2025, 1, 1))}
    assert given[0].partitions == {("cur-export", date(2025, 1, 1))}


def test_node_costs_can_be_rebuilt_from_stored_lines(rules: MappingRules) -> None:
    batches = run(DATA / "focus_1_3.csv", rules, keep_lines=True)
    lines = pa.concat_tables([b.lines for b in batches if b.lines is not None])
    direct = pa.concat_tables([b.costs for b in batches])
    rebuilt = costs_from_lines(lines)
    assert sorted(rebuilt.to_pylist(), key=str) == sorted(direct.to_pylist(), key=str)
