"""Rows of (from_node, to_node, dimension TEXT, a BIGINT, strategy TEXT, a DOUBLE)
in PostgreSQL's binary COPY format (pure; no driver needed): the share rows
(allocator.compute.shares, the BIGINT their position) laid out by numpy.

Encoded in the compute process, they reach the worker as one bytes object the driver
passes on as it is (docs/decisions/0008-write-only-what-changed.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from allocator.pgcopy.format import (
    HEADER,
    TRAILER,
    CopyRows,
    TextCodes,
    fixed_width_groups,
    present_codes,
)

__all__ = ["FLOW_COLUMNS", "encode_flow_arrays"]

FLOW_COLUMNS = ("from_node", "to_node", "dimension", "amount", "strategy", "share")


def encode_flow_arrays(
    columns: tuple[NDArray[np.int64], ...],
    amount: NDArray[np.int64],
    share: NDArray[np.float64],
    texts: tuple[TextCodes, TextCodes, TextCodes],
    dimension_names: Sequence[str],
) -> CopyRows:
    """Rows given as arrays: columns are the (parent, child, dimension, strategy)
    codes of each row, texts their (nodes, dimensions, strategies) codes; `amount`
    the BIGINT column, `share` the DOUBLE one. Row order within the data may
    differ; COPY does not mind."""
    parent, child, dimension, strategy = columns
    nodes, dims, strategies = texts
    sizes = (
        nodes.size[parent],
        nodes.size[child],
        dims.size[dimension],
        strategies.size[strategy],
    )
    body = [
        _fixed_width_rows(rows, columns, amount, share, texts, sizes)
        for rows in fixed_width_groups(sizes)
    ]
    present = present_codes(dimension, len(dimension_names))
    return CopyRows(
        HEADER + b"".join(body) + TRAILER,
        int(amount.size),
        frozenset(dimension_names[k] for k in present),
    )


def _fixed_width_rows(
    rows: NDArray[np.int64],
    columns: tuple[NDArray[np.int64], ...],
    amount: NDArray[np.int64],
    share: NDArray[np.float64],
    texts: tuple[TextCodes, TextCodes, TextCodes],
    sizes: tuple[NDArray[np.int64], ...],
) -> bytes:
    """Rows whose text fields have one width each, as one structured array."""
    parent, child, dimension, strategy = (c[rows] for c in columns)
    nodes, dims, strategies = texts
    first = rows[0]
    wp, wc, wd, ws = (int(w[first]) for w in sizes)
    layout = np.dtype(
        [
            ("fields", ">i2"),
            ("parent", f"S{wp}"),
            ("child", f"S{wc}"),
            ("dimension", f"S{wd}"),
            ("amount_size", ">i4"),
            ("amount", ">i8"),
            ("strategy", f"S{ws}"),
            ("share_size", ">i4"),
            ("share", ">f8"),
        ]
    )
    out = np.empty(rows.size, dtype=layout)
    out["fields"] = len(FLOW_COLUMNS)
    out["parent"] = nodes.fields(parent, wp)
    out["child"] = nodes.fields(child, wc)
    out["dimension"] = dims.fields(dimension, wd)
    out["amount_size"] = 8
    out["amount"] = amount[rows]
    out["strategy"] = strategies.fields(strategy, ws)
    out["share_size"] = 8
    out["share"] = share[rows]
    return out.tobytes()
