"""The recommendation and unit-cost rules of finops.domain.insights."""

from __future__ import annotations

from decimal import Decimal

import pytest

from finops.domain.insights import is_utilisation_metric, judge_utilisation, unit_cost


@pytest.mark.parametrize(
    ("average", "peak", "action"),
    [
        ("10", "29.99", "downsize"),
        ("10", "30", "rightsize"),
        ("29", "49.9", "rightsize"),
        ("49", "50", None),
        ("55", "20", None),  # a mean above a peak cannot happen, and is not judged low
    ],
)
def test_thresholds_read_the_average_and_the_peak(
    average: str, peak: str, action: str | None
) -> None:
    verdict = judge_utilisation(Decimal(average), Decimal(peak), 1_000_000)
    assert (verdict.action if verdict else None) == action


def test_savings_size_the_peak_to_seventy_percent_rounded_down() -> None:
    verdict = judge_utilisation(Decimal("10"), Decimal("21"), 100_000_000)
    assert verdict is not None
    assert verdict.savings_micros == 70_000_000  # 1 - 21/70 = 0.7
    odd = judge_utilisation(Decimal("10"), Decimal("20"), 1_000_001)
    assert odd is not None and odd.savings_micros == 714_286  # 1_000_001 * 5/7 down
    assert "below 30 %" in odd.reason


def test_unit_cost_has_nine_decimals_and_none_without_units() -> None:
    assert unit_cost(1_000_000, Decimal(3)).per_unit == Decimal("0.333333333")
    assert unit_cost(5, Decimal(0)).per_unit is None


def test_utilisation_metrics_by_suffix() -> None:
    assert is_utilisation_metric("cpu_utilization")
    assert is_utilisation_metric("Memory_Utilisation")
    assert not is_utilisation_metric("requests")
