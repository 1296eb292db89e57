"""Arrow columns from engine arrays: exact decimals, dates from day numbers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

__all__ = ["date_column", "decimal_column", "string_column"]


def decimal_column(micros: NDArray[np.int64]) -> pa.Array:
    """Exact decimal128(38, 6) values from micro-units, without a float step."""
    values = np.ascontiguousarray(micros, dtype=np.int64)
    words = np.empty((values.size, 2), dtype=np.int64)
    words[:, 0] = values
    words[:, 1] = values >> 63
    buffer = pa.py_buffer(words.tobytes())
    return pa.Array.from_buffers(pa.decimal128(38, 6), values.size, [None, buffer])


def date_column(day_numbers: NDArray[np.int64]) -> pa.Array:
    """date32 values from days since 1970-01-01."""
    return pa.array(day_numbers.astype(np.int32)).cast(pa.date32())


def string_column(codes: NDArray[np.int64], names: Sequence[str]) -> pa.Array:
    """Strings looked up by integer code."""
    return pc.take(pa.array(list(names), type=pa.string()), pa.array(codes))
