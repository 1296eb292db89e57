"""Exact money: Decimal at the edges, integer micro-units (10^-6) inside."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Final

import numpy as np
from numpy.typing import NDArray

from finops.errors import MoneyRangeError

__all__ = [
    "MAX_AMOUNT_MICROS",
    "MAX_AMOUNT_UNITS",
    "MICROS_PER_UNIT",
    "SUM_LIMIT_MICROS",
    "Money",
    "check_summable",
    "format_micros",
    "from_micros",
    "out_of_range",
    "parse_decimal",
    "to_micros",
]

MICROS_PER_UNIT: Final = 1_000_000

# The supported range. Money inside is int64 micro-units (at most 9.22e12 units), so:
# one amount (a bill line, a node-cost row) must lie within +-MAX_AMOUNT_UNITS; and a
# sum is taken only when the absolute values it adds stay below SUM_LIMIT_MICROS, so
# no partial sum can wrap. Amounts outside are refused per row; sums beyond, whole.
MAX_AMOUNT_UNITS: Final = 10**12
MAX_AMOUNT_MICROS: Final = MAX_AMOUNT_UNITS * MICROS_PER_UNIT
SUM_LIMIT_MICROS: Final = 2**62
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


def out_of_range(micros: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Which amounts lie outside +-MAX_AMOUNT_UNITS."""
    return np.asarray(np.abs(micros) > MAX_AMOUNT_MICROS, dtype=np.bool_)


def check_summable(micros: NDArray[np.int64], *, file: str | None = None) -> None:
    """Raise MoneyRangeError unless these amounts can be summed in int64 exactly.

    The bound is taken in float64 (relative error below 1e-15), far from the limit;
    when the row count times the largest magnitude is at most half the limit (the
    usual case) it cannot reach it, and the float sum is skipped.
    """
    if micros.size == 0:
        return
    largest = max(-int(micros.min()), int(micros.max()))
    if micros.size * largest <= SUM_LIMIT_MICROS // 2:
        return
    bound = float(np.abs(micros.astype(np.float64)).sum())
    if bound >= SUM_LIMIT_MICROS:
        raise MoneyRangeError(
            f"amounts add up to about {bound / MICROS_PER_UNIT:.6g} in absolute value, "
            f"beyond the supported {SUM_LIMIT_MICROS / MICROS_PER_UNIT:.6g}",
            file=file,
        )


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
