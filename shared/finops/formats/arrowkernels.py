"""The few Arrow compute kernels the engine's file readers need, called by name.

Importing `pyarrow.compute` builds a Python wrapper for each of Arrow's ~300
kernels (~0.03 s under the GIL, on the path of every `finops allocate`), and
Arrow's array methods (`cast`, `take`) import it on their
first call. The readers of cost and usage files call the kernels through
`call_function` instead, the function those wrappers end in, with the same options
they build (pyarrow is pinned; tests/unit/allocation/test_arrowkernels.py checks every
kernel here against `pyarrow.compute`).
"""

from __future__ import annotations

from typing import Any, TypeAlias

import pyarrow as pa
from pyarrow._compute import CastOptions, IndexOptions, RoundOptions, call_function

__all__ = [
    "binary_length",
    "cast",
    "equal",
    "index",
    "min_max",
    "minimum",
    "round_half_even",
    "take",
    "unique",
]

_Data: TypeAlias = pa.Array | pa.ChunkedArray


def cast(data: _Data, target: pa.DataType) -> Any:
    """`pc.cast(data, target)`: a safe cast (fails on lost data)."""
    return call_function("cast", [data], CastOptions.safe(target))


def min_max(data: _Data) -> Any:
    """`pc.min_max(data)`: a struct scalar with "min" and "max"."""
    return call_function("min_max", [data])


def minimum(data: _Data) -> Any:
    """`pc.min(data)`: a scalar."""
    return call_function("min", [data])


def binary_length(data: _Data) -> Any:
    """`pc.binary_length(data)`: bytes per string."""
    return call_function("binary_length", [data])


def unique(data: _Data) -> Any:
    """`pc.unique(data)`: distinct values, in order of appearance."""
    return call_function("unique", [data])


def equal(left: _Data, right: _Data) -> Any:
    """`pc.equal(left, right)`: booleans."""
    return call_function("equal", [left, right])


def round_half_even(data: _Data, ndigits: int) -> Any:
    """`pc.round(data, ndigits=ndigits, round_mode="half_to_even")`."""
    return call_function("round", [data], RoundOptions(ndigits, "half_to_even"))


def take(data: _Data, indices: Any) -> Any:
    """`pc.take(data, indices)`: values at the indices (bounds checked)."""
    return call_function("take", [data, indices])


def index(data: _Data, value: object) -> int:
    """`pc.index(data, value).as_py()`: the first position of value, or -1."""
    if not isinstance(value, pa.Scalar):
        value = pa.scalar(value, type=data.type)
    found: int = call_function("index", [data], IndexOptions(value)).as_py()
    return found
