"""Exact money: Decimal at the edges, integer micro-units (10^-6) inside."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Final

__all__ = [
    "MICROS_PER_UNIT",
    "Money",
    "format_micros",
    "from_micros",
    "parse_decimal",
    "to_micros",
]

MICROS_PER_UNIT: Final = 1_000_000
_MICRO: Final = Decimal("0.000001")


def parse_decimal(text: str) -> Decimal:
    """Parse a decimal amount; raises ValueError (never returns NaN or infinity)."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError) as exc:
        raise ValueError(f"not a number: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite number: {text!r}")
    return value


def to_micros(amount: Decimal | int | str) -> int:
    """Round an exact amount to integer micro-units, half to even."""
    value = parse_decimal(amount) if isinstance(amount, str) else Decimal(amount)
    return int((value * MICROS_PER_UNIT).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def from_micros(micros: int) -> Decimal:
    """Exact Decimal for a number of micro-units (six decimals)."""
    return (Decimal(int(micros)) / MICROS_PER_UNIT).quantize(_MICRO)


def format_micros(micros: int) -> str:
    """Decimal string with exactly six decimals, e.g. -0.500000."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(int(micros)), MICROS_PER_UNIT)
    return f"{sign}{whole}.{frac:06d}"


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency."""

    amount: Decimal
    currency: str = "USD"

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def to_micros(self) -> int:
        return to_micros(self.amount)
