"""Arrow kernels called by name (`formats/arrowkernels.py`) against `pyarrow.compute`:
the same values, types and errors, on plain and chunked arrays, with nulls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from finops.formats import arrowkernels as ak

_TEXT = pa.array(["b", "a", "", None, "b", "ü"])
_CHUNKED = pa.chunked_array([["x", "y"], [], ["y", "z", None]])
_DAYS = pa.chunked_array([[date(2025, 3, 1), None], [date(2024, 2, 29)]])
_AMOUNTS = pa.array(["1.5", "-0.000001", "12345678901234.123456", "0"])
_FINE = pa.array(["0.0000005", "0.0000015", "-2.5000005", "7"])


def _same(ours: Any, theirs: Any) -> None:
    assert type(ours) is type(theirs)
    assert ours.equals(theirs)
    assert ours.type == theirs.type


@pytest.mark.parametrize("data", [_TEXT, _CHUNKED])
def test_string_kernels(data: pa.Array | pa.ChunkedArray) -> None:
    _same(ak.unique(data), pc.unique(data))
    _same(ak.binary_length(data), pc.binary_length(data))
    _same(ak.minimum(ak.binary_length(data)), pc.min(pc.binary_length(data)))
    _same(ak.equal(data, data), pc.equal(data, data))


@pytest.mark.parametrize("value", ["b", "y", "nowhere"])
@pytest.mark.parametrize("data", [_TEXT, _CHUNKED])
def test_index(data: pa.Array | pa.ChunkedArray, value: str) -> None:
    assert ak.index(data, value) == pc.index(data, value).as_py()


def test_dates() -> None:
    _same(ak.min_max(_DAYS), pc.min_max(_DAYS))
    _same(ak.cast(_DAYS, pa.int32()), pc.cast(_DAYS, pa.int32()))
    _same(ak.min_max(pa.array([], pa.date32())), pc.min_max(pa.array([], pa.date32())))


def test_decimal_casts_and_rounding() -> None:
    micro, exact = pa.decimal128(38, 6), pa.decimal128(38, 12)
    _same(ak.cast(_AMOUNTS, micro), pc.cast(_AMOUNTS, micro))
    fine = ak.cast(_FINE, exact)
    _same(fine, pc.cast(_FINE, exact))
    rounded = ak.round_half_even(fine, 6)
    _same(rounded, pc.round(fine, ndigits=6, round_mode="half_to_even"))
    assert rounded.to_pylist()[:3] == [
        Decimal("0E-12"),
        Decimal("0.000002000000"),
        Decimal("-2.500000000000"),
    ]
    _same(ak.take(fine, [3, 0]), pc.take(fine, [3, 0]))


_FAILING: list[tuple[Callable[[], object], Callable[[], object]]] = [
    (  # more decimals than the type holds: a safe cast refuses
        lambda: ak.cast(_FINE, pa.decimal128(38, 6)),
        lambda: pc.cast(_FINE, pa.decimal128(38, 6)),
    ),
    (
        lambda: ak.cast(pa.array(["1e400x"]), pa.decimal128(38, 6)),
        lambda: pc.cast(pa.array(["1e400x"]), pa.decimal128(38, 6)),
    ),
    (lambda: ak.take(_TEXT, [9]), lambda: pc.take(_TEXT, [9])),
]


@pytest.mark.parametrize(("ours", "theirs"), _FAILING)
def test_the_same_errors(
    ours: Callable[[], object], theirs: Callable[[], object]
) -> None:
    with pytest.raises(pa.ArrowException) as expected:
        theirs()
    with pytest.raises(type(expected.value)) as got:
        ours()
    assert str(got.value) == str(expected.value)
