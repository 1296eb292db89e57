"""Bad rows are rejected with file, line and reason; the good rows go through."""

from __future__ import annotations

from pathlib import Path

import pytest

from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.rejects import Reject, write_rejects
from finops.errors import InputError
from tests.unit.focus.batches import costs_of, run
from tests.unit.focus.conftest import DATA

BAD = DATA / "bad_rows.csv"


def test_each_bad_row_is_rejected_with_its_line_and_reason(
    rules: MappingRules,
) -> None:
    rejects = [r for b in run(BAD, rules) for r in b.rejects]
    assert sorted(rejects, key=lambda r: r.line) == [
        Reject(str(BAD), 3, "BilledCost is not a number: 'abc'"),
        Reject(str(BAD), 4, "missing BilledCost"),
        Reject(
            str(BAD),
            5,
            "ChargePeriodStart is not a valid timestamp: '2024-02-30 00:00:00'",
        ),
        Reject(str(BAD), 6, "ChargePeriodEnd is before ChargePeriodStart"),
        Reject(str(BAD), 7, "missing ChargePeriodStart"),
        Reject(str(BAD), 8, "expected 8 fields, found 3"),
        Reject(str(BAD), 10, "missing ProviderName"),
        Reject(str(BAD), 11, "charge period longer than 3660 days"),
    ]


def test_good_rows_of_the_same_file_go_through(rules: MappingRules) -> None:
    batches = run(BAD, rules)
    assert costs_of(batches) == {
        ("unmapped", "2024-09-01", "Compute"): 1_000_000,
        ("unmapped", "2024-09-02", "Storage"): 6_000_000,
    }
    assert sum(b.rows_read for b in batches) == 10
    assert sum(b.rows_accepted for b in batches) == 2


def test_good_lines_keep_their_numbers_after_a_malformed_row(
    rules: MappingRules,
) -> None:
    lines = [b.lines for b in run(BAD, rules, keep_lines=True) if b.lines is not None]
    assert [n for t in lines for n in t["line"].to_pylist()] == [2, 9]


def test_a_file_with_an_unknown_layout_is_refused(rules: MappingRules) -> None:
    with pytest.raises(InputError, match=r"missing columns: .*BilledCost"):
        run(DATA / "unknown_layout.csv", rules)


def test_a_missing_file_is_refused(rules: MappingRules, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        run(tmp_path / "nothing.csv", rules)


def test_the_rejects_report_has_file_line_reason(tmp_path: Path) -> None:
    path = tmp_path / "rejects.csv"
    write_rejects([Reject("a.csv", 3, "missing BilledCost")], path)
    assert path.read_text().splitlines() == [
        "file,line,reason",
        "a.csv,3,missing BilledCost",
    ]


def test_line_numbers_survive_many_malformed_rows(
    rules: MappingRules, tmp_path: Path
) -> None:
    header, good = (DATA / "bad_rows.csv").read_text().splitlines()[:2]
    short = "5.000000,acct-9"
    body = [good if i % 3 else short for i in range(300)]
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join([header, *body]) + "\n")
    batches = run(path, rules, keep_lines=True)
    lines = [
        n for b in batches if b.lines is not None for n in b.lines["line"].to_pylist()
    ]
    assert lines == [i + 2 for i in range(300) if i % 3]
    assert [r.line for b in batches for r in b.rejects] == [
        i + 2 for i in range(300) if not i % 3
    ]
