"""Node rows encoded once, in the compute process: binary COPY for `tmp_results`
and, per dimension, the JSON rows of their announcements (pure; no driver needed;
docs/decisions/0008-write-only-what-changed.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson
from numpy.typing import NDArray

from allocator.pgcopy.format import (
    HEADER,
    TRAILER,
    CopyRows,
    TextCodes,
    fixed_width_groups,
    present_codes,
)

__all__ = [
    "MAX_EVENT_ROWS",
    "NODE_COLUMNS",
    "EncodedNodes",
    "encode_node_arrays",
]

NODE_COLUMNS = (
    "node_id",
    "dimension",
    "direct",
    "indirect",
    "holistic",
    "allocated_out",
    "retained",
)
MAX_EVENT_ROWS = 2000  # node rows per AllocationComputed event: well under 1 MiB
_FIGURES = 5


@dataclass(frozen=True)
class EncodedNodes:
    """Changed node rows of a date: binary COPY rows and, per dimension, JSON arrays
    of at most MAX_EVENT_ROWS `[node, direct, indirect, holistic, allocated_out,
    retained]` rows each."""

    copy: CopyRows
    events: dict[str, list[bytes]]

    def __len__(self) -> int:
        return self.copy.count

    @property
    def dimensions(self) -> frozenset[str]:
        return self.copy.dimensions


def encode_node_arrays(
    node: NDArray[np.int64],
    dimension: NDArray[np.int64],
    figures: NDArray[np.int64],
    texts: tuple[TextCodes, TextCodes],
    names: tuple[Sequence[str], Sequence[str]],
) -> EncodedNodes:
    """Rows given as arrays: each row's node and dimension codes, and figures of
    shape (5, rows); texts encode the codes for COPY, names are the codes' texts."""
    nodes, dims = texts
    sizes = (nodes.size[node], dims.size[dimension])
    body = [
        _fixed_width_rows(rows, node, dimension, figures, texts, sizes)
        for rows in fixed_width_groups(sizes)
    ]
    node_names, dimension_names = names
    present = present_codes(dimension, len(dimension_names))
    copy = CopyRows(
        HEADER + b"".join(body) + TRAILER,
        int(node.size),
        frozenset(dimension_names[k] for k in present),
    )
    events = {}
    for k in present:
        mask = dimension == k
        ids = map(node_names.__getitem__, node[mask].tolist())
        rows = list(zip(ids, *figures[:, mask].tolist(), strict=True))
        events[dimension_names[k]] = [
            orjson.dumps(rows[i : i + MAX_EVENT_ROWS])
            for i in range(0, len(rows), MAX_EVENT_ROWS)
        ]
    return EncodedNodes(copy, events)


def _fixed_width_rows(
    rows: NDArray[np.int64],
    node: NDArray[np.int64],
    dimension: NDArray[np.int64],
    figures: NDArray[np.int64],
    texts: tuple[TextCodes, TextCodes],
    sizes: tuple[NDArray[np.int64], NDArray[np.int64]],
) -> bytes:
    """Rows whose text fields have one width each, as one structured array."""
    nodes, dims = texts
    first = rows[0]
    wn, wd = int(sizes[0][first]), int(sizes[1][first])
    fields = [("fields", ">i2"), ("node", f"S{wn}"), ("dimension", f"S{wd}")]
    for i in range(_FIGURES):
        fields += [(f"size{i}", ">i4"), (f"figure{i}", ">i8")]
    out = np.empty(rows.size, dtype=np.dtype(fields))
    out["fields"] = len(NODE_COLUMNS)
    out["node"] = nodes.fields(node[rows], wn)
    out["dimension"] = dims.fields(dimension[rows], wd)
    for i in range(_FIGURES):
        out[f"size{i}"] = 8
        out[f"figure{i}"] = figures[i, rows]
    return out.tobytes()
