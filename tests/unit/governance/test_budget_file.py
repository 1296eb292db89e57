"""Governance files: the issue's example is accepted; each defect names its line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from finops.domain.budgets import Basis, Period, period_bounds
from finops.errors import InputError
from finops.formats.governancefile import load_governance, parse_governance

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "governance" / "lab.yaml"


def test_the_documented_example_is_accepted_with_every_field() -> None:
    config, _ = load_governance(EXAMPLE)
    budget = config.budgets[0]
    assert budget.id == "azure-lab" and budget.amount == Decimal("1.00")
    assert budget.period is Period.MONTH and budget.currency == "USD"
    assert budget.scope.filter == {
        "ServiceProviderName": "Microsoft",
        "Tags.env": "dev",
    }
    assert [(t.percent, t.basis) for t in budget.thresholds] == [
        (Decimal(80), Basis.ACTUAL),
        (Decimal(100), Basis.FORECAST),
    ]
    hook = config.webhooks[0]
    assert hook.events[0].value == "budget.alert" and hook.format.value == "native"
    action = config.actions[0]
    assert action.on.percent == 80 and action.on.basis is Basis.ACTUAL  # `on:` is a key
    assert action.shutdown.filter == {
        "Tags.env": "dev",
        "ResourceType": "Virtual Machine",
    }
    assert action.approval.value == "automatic"


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (
            ('amount: "1.00"', 'amount: "-1"'),
            6,
            "amount: Input should be greater than 0",
        ),
        (
            ("percent: 80, basis: actual}, {", "percent: 1001, basis: actual}, {"),
            10,
            "less than or equal to 1000",
        ),
        (
            ("percent: 80, basis: actual}, {", "percent: 0, basis: actual}, {"),
            10,
            "greater than 0",
        ),
        (("budget: azure-lab", "budget: nowhere"), 19, "unknown budget 'nowhere'"),
        (
            ("url: http://127.0.0.1:9000/hooks/budget", "url: ftp://host/x"),
            13,
            "not an http(s) URL",
        ),
        (
            (
                "secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n    events",
                "secret: s3cret\n    events",
            ),
            14,
            "starts with 'whsec_'",
        ),
        (
            (
                "secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n    events",
                "secret: whsec_c2hvcnQ=\n    events",
            ),
            14,
            "use 24 to 64",
        ),
        (("Tags.env: dev}}", "Tag.env: dev}}"), 9, "unknown filter field 'Tag.env'"),
        (("period: month", "period: fortnight"), 8, "period"),
        (
            ("on: {percent: 80, basis: actual}", "on: {percent: 90, basis: actual}"),
            20,
            "has no threshold 90% actual",
        ),
        (("format: native ", "format: slack "), 16, "format"),
    ],
)
def test_a_defect_is_refused_naming_its_line(
    change: tuple[str, str], line: int, message: str
) -> None:
    text = EXAMPLE.read_text()
    assert change[0] in text
    with pytest.raises(InputError) as caught:
        parse_governance(text.replace(*change), name="lab.yaml")
    assert caught.value.file == "lab.yaml" and caught.value.line == line
    assert message in str(caught.value)


def test_a_secret_is_never_shown_in_an_error() -> None:
    text = EXAMPLE.read_text().replace("9000/hooks/budget", "9000/hooks/budget  x")
    bad = text.replace("url: http://127.0.0.1:9000/hooks/budget  x", "url: nope")
    with pytest.raises(InputError) as caught:
        parse_governance(bad, name="f.yaml")
    assert "MfKQ9r8" not in str(caught.value)


def test_duplicate_ids_and_parent_cycles_are_refused() -> None:
    twice = """budgets:
  - {id: a, name: A, amount: "1"}
  - {id: a, name: B, amount: "2"}
"""
    with pytest.raises(InputError, match="'a' twice") as caught:
        parse_governance(twice, name="g.yaml")
    assert caught.value.line == 3
    cycle = """budgets:
  - {id: a, name: A, amount: "1", parent: b}
  - {id: b, name: B, amount: "2", parent: a}
"""
    with pytest.raises(InputError, match="cycle"):
        parse_governance(cycle, name="g.yaml")


def test_yaml_aliases_and_non_mappings_are_refused() -> None:
    with pytest.raises(InputError, match="aliases"):
        parse_governance("a: &x [1]\nb: *x\n", name="g.yaml")
    with pytest.raises(InputError, match="expected a mapping"):
        parse_governance("- 1\n", name="g.yaml")


@pytest.mark.parametrize(
    ("period", "day", "start", "expected"),
    [
        (Period.DAY, date(2024, 2, 29), None, (date(2024, 2, 29), date(2024, 3, 1))),
        (Period.MONTH, date(2024, 2, 29), None, (date(2024, 2, 1), date(2024, 3, 1))),
        (
            Period.MONTH,
            date(2024, 2, 14),
            date(2024, 1, 15),
            (date(2024, 1, 15), date(2024, 2, 15)),
        ),
        (Period.QUARTER, date(2024, 5, 31), None, (date(2024, 4, 1), date(2024, 7, 1))),
        (
            Period.QUARTER,
            date(2024, 1, 31),
            date(2023, 2, 1),
            (date(2023, 11, 1), date(2024, 2, 1)),
        ),
        (Period.YEAR, date(2024, 12, 31), None, (date(2024, 1, 1), date(2025, 1, 1))),
        (
            Period.YEAR,
            date(2024, 3, 31),
            date(2020, 4, 6),
            (date(2023, 4, 6), date(2024, 4, 6)),
        ),
    ],
)
def test_periods_are_half_open_and_follow_the_start(
    period: Period, day: date, start: date | None, expected: tuple[date, date]
) -> None:
    first, end = period_bounds(period, day, start)
    assert (first, end) == expected and first <= day < end
