"""Money is exact: micro-units rounded half to even, six-decimal strings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from finops.domain.money import (
    Money,
    format_micros,
    from_micros,
    parse_decimal,
    to_micros,
)


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("1", 1_000_000),
        ("-0.000001", -1),
        ("0.0000005", 0),
        ("0.0000015", 2),
        ("-0.0000025", -2),
        ("123456789.123456", 123_456_789_123_456),
        ("1e-6", 1),
    ],
)
def test_amounts_round_half_to_even(text: str, micros: int) -> None:
    assert to_micros(text) == micros


@pytest.mark.parametrize("text", ["abc", "NaN", "inf", ""])
def test_non_numbers_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_decimal(text)


def test_formatting_has_six_decimals_and_keeps_sign() -> None:
    assert format_micros(-500_000) == "-0.500000"
    assert format_micros(12_000_001) == "12.000001"
    assert from_micros(-1) == Decimal("-0.000001")


def test_money_refuses_mixed_currencies() -> None:
    with pytest.raises(ValueError, match="EUR"):
        _ = Money(Decimal(1), "USD") + Money(Decimal(1), "EUR")
