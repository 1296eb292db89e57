"""Vectorised parsing of FOCUS values: costs to micro-units, timestamps to UTC."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from finops.domain.money import to_micros

__all__ = [
    "NULL_STRINGS",
    "convert_or_flag",
    "sub_micro_picos",
    "to_decimal_array",
    "to_micros_array",
    "to_utc_array",
]

NULL_STRINGS: Final = ["NULL", "null", ""]
UTC_US: Final = pa.timestamp("us", tz="UTC")
_WIDE: Final = pa.decimal128(38, 18)
_MICRO_DECIMAL: Final = pa.decimal128(30, 6)
_NARROW: Final = pa.decimal128(36, 18)  # 18 integer digits: past the money range
_MILLION: Final = pa.scalar(Decimal(1_000_000), pa.decimal128(7, 0))
_ARROW_ERRORS: Final = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)
_INT64_MAX: Final = 2**63 - 1

Convert = Callable[[pa.Array], pa.Array]
# Flags (true) the text elements a conversion would certainly refuse.
Screen = Callable[[pa.Array], pa.Array]

# What a number or an ISO 8601 timestamp looks like; text of another shape is
# flagged in one pass instead of being isolated by bisection.
_NUMBER_SHAPE: Final = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_TIMESTAMP_SHAPE: Final = (
    r"^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?)?(Z| ?UTC|[+-]\d\d(:?\d\d)?)?$"
)
_TIMESTAMP_PARTS: Final = {
    "year": (0, 4),
    "month": (5, 7),
    "day": (8, 10),
    "hour": (11, 13),
    "minute": (14, 16),
    "second": (17, 19),
}
_MONTH_DAYS: Final = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def convert_or_flag(
    values: pa.Array, convert: Convert, *, screen: Screen | None = None
) -> tuple[pa.Array, NDArray[np.bool_]]:
    """Convert an array; elements that fail become null and are flagged.

    The whole array is tried first. On failure, `screen` flags the text that
    cannot convert in one vectorised pass, then the rest is halved until any
    remaining failures are isolated; a clean batch costs one call.
    """
    try:
        return convert(values), np.zeros(len(values), dtype=np.bool_)
    except _ARROW_ERRORS:
        if screen is None or not pa.types.is_string(values.type):
            return _bisect(values, convert)
    screened = np.asarray(pc.fill_null(screen(values), False), dtype=np.bool_)
    converted, bad = _bisect(pc.if_else(pa.array(screened), None, values), convert)
    return converted, bad | screened


def _misshapen(shape: str) -> Screen:
    """A screen flagging text that does not match a regex."""
    return lambda values: pc.invert(pc.match_substring_regex(values, shape))


def _impossible_timestamps(values: pa.Array) -> pa.Array:
    """Flag text not shaped like ISO 8601 or naming a day or time that cannot be."""
    misshapen = _misshapen(_TIMESTAMP_SHAPE)(values)
    parts = {
        name: _digits(pc.if_else(misshapen, None, values), start, stop)
        for name, (start, stop) in _TIMESTAMP_PARTS.items()
    }
    year, month, day = parts["year"], parts["month"], parts["day"]
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    last_day = _MONTH_DAYS[np.clip(month, 0, 12)] + ((month == 2) & leap)
    impossible = (month < 1) | (month > 12) | (day < 1) | (day > last_day)
    impossible |= (parts["hour"] > 23) | (parts["minute"] > 59) | (parts["second"] > 59)
    impossible &= np.asarray(pc.is_valid(values), dtype=np.bool_)
    return pc.or_(pc.fill_null(misshapen, False), pa.array(impossible))


def _digits(values: pa.Array, start: int, stop: int) -> NDArray[np.int64]:
    """The integer in fixed positions of each text (0 where absent)."""
    text = pc.utf8_slice_codeunits(values, start, stop)
    number = pc.cast(pc.if_else(pc.equal(text, ""), None, text), pa.int64(), safe=False)
    return np.asarray(pc.fill_null(number, 0), dtype=np.int64)


def _bisect(values: pa.Array, convert: Convert) -> tuple[pa.Array, NDArray[np.bool_]]:
    """Convert halves recursively, flagging the single elements that fail."""
    try:
        return convert(values), np.zeros(len(values), dtype=np.bool_)
    except _ARROW_ERRORS:
        if len(values) == 1:
            out_type = convert(pa.nulls(0, values.type)).type
            return pa.nulls(1, out_type), np.ones(1, dtype=np.bool_)
    half = len(values) // 2
    left, left_bad = _bisect(values.slice(0, half), convert)
    right, right_bad = _bisect(values.slice(half), convert)
    return pa.concat_arrays([left, right]), np.concatenate([left_bad, right_bad])


def _decimal_to_micros(values: pa.Array) -> pa.Array:
    """Exact micro-units of decimal strings or decimals, rounded half to even."""
    if not pa.types.is_decimal(values.type):
        values = pc.cast(values, _WIDE)
    rounded = pc.round(values, ndigits=6, round_mode="half_to_even")
    scaled = pc.multiply(pc.cast(rounded, _MICRO_DECIMAL), _MILLION)
    return pc.cast(scaled, pa.int64())


def _to_decimal(values: pa.Array) -> pa.Array:
    """Decimal128(38, 18) of decimal text, numbers or decimals."""
    if pa.types.is_floating(values.type) or pa.types.is_integer(values.type):
        values = pc.cast(values, pa.string())
    return pc.cast(values, _WIDE)


def to_decimal_array(values: pa.Array) -> tuple[pa.Array, NDArray[np.bool_]]:
    """Exact decimals (18 places) of a cost column; flags values not numbers."""
    return convert_or_flag(values, _to_decimal, screen=_misshapen(_NUMBER_SHAPE))


def to_micros_array(values: pa.Array) -> tuple[pa.Array, NDArray[np.bool_]]:
    """Integer micro-units (int64) of a cost column; flags values that are not numbers.

    Floats are read through their shortest decimal text, never by binary value.
    """
    if pa.types.is_floating(values.type) or pa.types.is_integer(values.type):
        values = pc.cast(values, pa.string())
    micros, bad = convert_or_flag(
        values, _decimal_to_micros, screen=_misshapen(_NUMBER_SHAPE)
    )
    if not bad.any():
        return micros, bad
    return _retry_exactly(values, micros, bad)


def _sub_micro_of(values: pa.Array) -> pa.Array:
    """What rounding to micro-units took off each value, in pico-units (10^-12)."""
    if not pa.types.is_decimal(values.type):
        values = pc.cast(values, _WIDE)
    values = pc.cast(values, _NARROW)  # room for the difference's precision
    rounded = pc.round(values, ndigits=6, round_mode="half_to_even")
    left = pc.cast(pc.subtract(values, rounded), pa.float64())  # |left| <= 5e-7
    return pc.cast(pc.round(pc.multiply(left, 1e12)), pa.int64())


def sub_micro_picos(values: pa.Array) -> NDArray[np.int64]:
    """Per value, the part below the micro-unit that `to_micros_array` rounds away,
    in pico-units (10^-12; |part| <= 500,000); 0 for what is not a number. Carried
    beside the micro-units so that sums are rounded once, not per line."""
    if pa.types.is_integer(values.type):
        return np.zeros(len(values), dtype=np.int64)  # no digits past the sixth
    if pa.types.is_floating(values.type):  # their shortest decimal text, as costs
        values = pc.cast(values, pa.string())
    picos, bad = convert_or_flag(
        values, _sub_micro_of, screen=_misshapen(_NUMBER_SHAPE)
    )
    out = np.array(pc.fill_null(picos, 0), dtype=np.int64)
    for i in np.flatnonzero(bad):  # past 18 decimals: Decimal, exactly
        try:
            exact = Decimal(str(values[i].as_py()))
            out[i] = int(
                (
                    (exact - Decimal(to_micros(exact)) / 10**6) * 10**12
                ).to_integral_value()
            )
        except (ValueError, ArithmeticError, TypeError):
            out[i] = 0
    return out


def _retry_exactly(
    values: pa.Array, micros: pa.Array, bad: NDArray[np.bool_]
) -> tuple[pa.Array, NDArray[np.bool_]]:
    """Per-element Decimal parse of the few values Arrow refused (e.g. 20 decimals).

    A number whose micro-units do not fit int64 (past 9.22e12 units, which Arrow
    refuses too) saturates at +-(2**63 - 1): a number, outside the
    supported range, so the range checks refuse its row with that reason (a Python
    int past int64 made the whole upload fail with HTTP 500)."""
    out = micros.to_pylist()
    for i in np.flatnonzero(bad):
        try:
            exact = to_micros(str(values[i].as_py()))
            out[i] = max(-_INT64_MAX, min(_INT64_MAX, exact))
            bad[i] = False
        except (ValueError, ArithmeticError):
            out[i] = None
    return pa.array(out, pa.int64()), bad


def _strings_to_utc(values: pa.Array) -> pa.Array:
    """UTC timestamps of ISO 8601 text: `T` or space; `Z`, `UTC`, offset or no zone."""
    try:
        return pc.cast(pc.cast(values, pa.timestamp("us")), UTC_US)
    except _ARROW_ERRORS:
        pass
    try:
        return pc.cast(values, UTC_US)
    except _ARROW_ERRORS:
        values = pc.replace_substring_regex(values, r" ?UTC$", "Z")
        zoned = pc.match_substring_regex(values, r"(Z|[+-]\d\d(:?\d\d)?)$")
        naive = pc.cast(
            pc.cast(pc.if_else(zoned, None, values), pa.timestamp("us")), UTC_US
        )
        return pc.coalesce(pc.cast(pc.if_else(zoned, values, None), UTC_US), naive)


def _to_utc(values: pa.Array) -> pa.Array:
    """UTC timestamps (us) of text, dates or timestamps; zone-less values are UTC."""
    if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        if getattr(values.type, "tz", None) is None:
            values = pc.cast(values, pa.timestamp("us"))
        return pc.cast(values, UTC_US)
    return _strings_to_utc(pc.cast(values, pa.string()))


def to_utc_array(values: pa.Array) -> tuple[pa.Array, NDArray[np.bool_]]:
    """Timestamps in UTC (us); flags values that are not possible timestamps."""
    return convert_or_flag(values, _to_utc, screen=_impossible_timestamps)
