"""Flow rows in PostgreSQL's binary COPY format (pure; no driver needed).

A busy date writes tens of thousands of flow rows every few seconds. Encoded in the
compute process, they reach the worker as one bytes object that the driver passes on
as it is, instead of tuples to unpickle and encode on the event loop.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "FLOW_COLUMNS",
    "HEADER",
    "TRAILER",
    "CopyRows",
    "TextCodes",
    "encode_flow_arrays",
    "encode_flows",
    "fixed_width_groups",
    "present_codes",
]

FLOW_COLUMNS = ("from_node", "to_node", "dimension", "amount", "strategy", "share")
HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # no flags, no extension
TRAILER = struct.pack(">h", -1)
_FIELDS = struct.pack(">h", len(FLOW_COLUMNS))
_BIGINT = struct.Struct(">iq")  # length 8, value
_DOUBLE = struct.Struct(">id")


@dataclass(frozen=True)
class CopyRows:
    """Rows already encoded for `COPY ... FROM STDIN (FORMAT binary)`."""

    data: bytes
    count: int
    dimensions: frozenset[str]

    def __len__(self) -> int:
        return self.count


FlowKey = tuple[str, str, str]  # from, to, dimension
FlowRow = tuple[int, str, float]  # amount, strategy, share


def encode_flows(flows: dict[FlowKey, FlowRow]) -> CopyRows:
    """Flow rows as tmp_flows (from_node, to_node, dimension TEXT, amount BIGINT,
    strategy TEXT, share DOUBLE PRECISION) reads them in binary COPY."""
    texts: dict[str, bytes] = {}

    def text(value: str) -> bytes:
        encoded = texts.get(value)
        if encoded is None:
            raw = value.encode()
            encoded = texts[value] = len(raw).to_bytes(4, "big") + raw
        return encoded

    bigint, double = _BIGINT.pack, _DOUBLE.pack
    body = b"".join(
        [
            _FIELDS
            + text(parent)
            + text(child)
            + text(dimension)
            + bigint(8, amount)
            + text(strategy)
            + double(8, share)
            for (parent, child, dimension), (amount, strategy, share) in flows.items()
        ]
    )
    dimensions = frozenset(k for _, _, k in flows)
    return CopyRows(HEADER + body + TRAILER, len(flows), dimensions)


class TextCodes:
    """Texts as binary COPY fields (length, then UTF-8), one fixed-width array per
    byte length, so rows of equal field lengths are laid out by numpy at once."""

    def __init__(self, texts: Sequence[str]) -> None:
        raw = [t.encode() for t in texts]
        self.size = np.array([4 + len(r) for r in raw], dtype=np.int64)
        self._by_size: dict[int, NDArray[np.bytes_]] = {}
        for width in np.unique(self.size).tolist():
            column = np.zeros(len(raw), dtype=f"S{width}")
            for i in np.flatnonzero(self.size == width).tolist():
                column[i] = len(raw[i]).to_bytes(4, "big") + raw[i]
            self._by_size[width] = column

    def fields(self, codes: NDArray[np.int64], width: int) -> NDArray[np.bytes_]:
        """The encoded fields of codes whose texts are all `width` bytes encoded."""
        return self._by_size[width][codes]


_TEXT_WIDTH_LIMIT = 1 << 12  # a text field wider than this is encoded row by row


def encode_flow_arrays(
    columns: tuple[NDArray[np.int64], ...],
    amount: NDArray[np.int64],
    share: NDArray[np.float64],
    texts: tuple[TextCodes, TextCodes, TextCodes],
    dimension_names: Sequence[str],
) -> CopyRows:
    """encode_flows of rows given as arrays: columns are the (parent, child,
    dimension, strategy) codes of each row, texts their (nodes, dimensions,
    strategies) codes. Row order within the data may differ; COPY does not mind."""
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


def present_codes(codes: NDArray[np.int64], count: int) -> list[int]:
    """The distinct codes (of `count` possible) among many: counted, not sorted."""
    return np.flatnonzero(np.bincount(codes, minlength=count)).tolist()


def fixed_width_groups(sizes: Sequence[NDArray[np.int64]]) -> list[NDArray[np.int64]]:
    """The rows, in groups whose text fields (one size array each) have equal widths."""
    widest = max((int(w.max()) for w in sizes if w.size), default=0)
    if widest >= _TEXT_WIDTH_LIMIT:
        raise ValueError(f"a text field of {widest} bytes is too wide to batch")
    key = sizes[0]
    for width in sizes[1:]:
        key = key * _TEXT_WIDTH_LIMIT + width
    order = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(key[order])) + 1
    return [rows for rows in np.split(order, bounds) if rows.size]


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
