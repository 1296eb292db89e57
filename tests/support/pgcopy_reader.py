"""Reads flow and node rows back from PostgreSQL's binary COPY format (for tests)."""

from __future__ import annotations

import struct

import numpy as np
import orjson
from numpy.typing import NDArray

from allocator.compute.daydelta import NodeKey, NodeRow
from allocator.pgcopy.delta import EncodedDelta
from allocator.pgcopy.flows import encode_flow_arrays
from allocator.pgcopy.format import CopyRows, TextCodes
from allocator.pgcopy.nodes import EncodedNodes, encode_node_arrays

_HEADER = 19  # signature (11), flags (4), header extension length (4)


Row = tuple[tuple[str, str, str], tuple[int, str, float]]


class _Cursor:
    """Reads binary COPY data row by row, field by field."""

    def __init__(self, rows: CopyRows) -> None:
        self.data, self.at = rows.data, _HEADER
        assert self.data.startswith(b"PGCOPY\n\xff\r\n\x00")

    def next_row(self) -> int | None:
        """The next row's field count (None at the trailer)."""
        (fields,) = struct.unpack_from(">h", self.data, self.at)
        if fields == -1:
            return None
        self.at += 2
        return int(fields)

    def field(self) -> bytes:
        (size,) = struct.unpack_from(">i", self.data, self.at)
        value = self.data[self.at + 4 : self.at + 4 + size]
        self.at += 4 + size
        return value

    def end(self) -> None:
        """Only the trailer is left."""
        assert self.at + 2 == len(self.data)


def decode_rows(rows: CopyRows) -> list[Row]:
    """Every ((from, to, dimension), (bigint, strategy, share)) encoded, in order."""
    cursor, found = _Cursor(rows), []
    while cursor.next_row() is not None:
        field = cursor.field
        parent, child, dimension = (field().decode() for _ in range(3))
        (amount,) = struct.unpack(">q", field())
        strategy = field().decode()
        (share,) = struct.unpack(">d", field())
        found.append(((parent, child, dimension), (amount, strategy, share)))
    assert len(found) == rows.count
    cursor.end()
    return found


def decode_share_sets(rows: CopyRows) -> list[Row]:
    """The rows of every share set encoded (encode_share_sets), in order:
    ((from, to, dimension), (position, strategy, share)), each set's children, then
    its retained share (to and strategy ''); a set stored once for a group of
    dimensions is listed for each of them, as the allocation_share_sets view does."""
    cursor, found, sets = _Cursor(rows), [], 0
    field = cursor.field
    while (fields := cursor.next_row()) is not None:
        assert fields == 7
        parent, first = field().decode(), field().decode()
        dimensions = [d.decode() for d in _array(field(), 25)]
        assert dimensions and dimensions[0] == first  # stored under its first
        children = [c.decode() for c in _array(field(), 25)]
        strategies = [s.decode() for s in _array(field(), 25)]
        shares = [struct.unpack(">d", v)[0] for v in _array(field(), 701)]
        (retained,) = struct.unpack(">d", field())
        assert len(children) == len(strategies) == len(shares) > 0
        for dimension in dimensions:
            for i, (child, strategy, share) in enumerate(
                zip(children, strategies, shares, strict=True)
            ):
                found.append(((parent, child, dimension), (i, strategy, share)))
            found.append(((parent, "", dimension), (len(children), "", retained)))
        sets += 1
    assert sets == rows.count
    cursor.end()
    return found


def _array(raw: bytes, oid: int) -> list[bytes]:
    """The elements of a one-dimensional array without nulls, in binary format."""
    ndim, flags, element, length, lower = struct.unpack_from(">iiiii", raw, 0)
    assert (ndim, flags, element, lower) == (1, 0, oid, 1)
    at, found = 20, []
    for _ in range(length):
        (size,) = struct.unpack_from(">i", raw, at)
        found.append(raw[at + 4 : at + 4 + size])
        at += 4 + size
    assert at == len(raw)
    return found


def decode_flows(rows: CopyRows) -> dict[tuple[str, str, str], tuple[int, str, float]]:
    """The {(from, to, dimension): (amount, strategy, share)} that were encoded."""
    return dict(decode_rows(rows))


def encode_by_arrays(
    flows: dict[tuple[str, str, str], tuple[int, str, float]],
) -> CopyRows:
    """encode_flow_arrays of rows given as a dict."""
    nodes = sorted({n for p, c, _ in flows for n in (p, c)})
    dims = sorted({k for _, _, k in flows})
    strategies = sorted({s for _, s, _ in flows.values()})
    codes = [{name: i for i, name in enumerate(v)} for v in (nodes, dims, strategies)]
    node, dim, strategy = codes

    def column(values: list[int]) -> NDArray[np.int64]:
        return np.array(values, dtype=np.int64)

    return encode_flow_arrays(
        (
            column([node[p] for p, _, _ in flows]),
            column([node[c] for _, c, _ in flows]),
            column([dim[k] for _, _, k in flows]),
            column([strategy[s] for _, s, _ in flows.values()]),
        ),
        column([a for a, _, _ in flows.values()]),
        np.array([sh for _, _, sh in flows.values()], dtype=np.float64),
        (TextCodes(nodes), TextCodes(dims), TextCodes(strategies)),
        dims,
    )


def decode_nodes(
    encoded: EncodedNodes,
) -> dict[tuple[str, str], tuple[int, int, int, int, int]]:
    """The {(node, dimension): figures} that were encoded; the announcements' JSON
    rows are checked to hold the same rows."""
    data, at = encoded.copy.data, _HEADER
    found: dict[tuple[str, str], tuple[int, int, int, int, int]] = {}
    assert data.startswith(b"PGCOPY\n\xff\r\n\x00")
    while struct.unpack_from(">h", data, at)[0] != -1:
        (fields,) = struct.unpack_from(">h", data, at)
        assert fields == 7
        at += 2
        texts = []
        for _ in range(2):
            (size,) = struct.unpack_from(">i", data, at)
            texts.append(data[at + 4 : at + 4 + size].decode())
            at += 4 + size
        figures = struct.unpack_from(">" + "iq" * 5, data, at)
        at += 60
        assert figures[0::2] == (8,) * 5
        found[(texts[0], texts[1])] = figures[1::2]
    assert len(found) == encoded.copy.count and at + 2 == len(data)
    announced = {
        (row[0], dimension): tuple(row[1:])
        for dimension, chunks in encoded.events.items()
        for chunk in chunks
        for row in orjson.loads(chunk)
    }
    assert announced == found
    assert encoded.dimensions == {k for _, k in found}
    return found


def encode_nodes_by_arrays(
    nodes: dict[tuple[str, str], tuple[int, int, int, int, int]],
) -> EncodedNodes:
    """encode_node_arrays of node rows given as a dict (as _node_rows makes them)."""
    ids = sorted({n for n, _ in nodes})
    dims = sorted({k for _, k in nodes})
    node = {name: i for i, name in enumerate(ids)}
    dim = {name: i for i, name in enumerate(dims)}
    return encode_node_arrays(
        np.array([node[n] for n, _ in nodes], dtype=np.int64),
        np.array([dim[k] for _, k in nodes], dtype=np.int64),
        np.array(list(nodes.values()), dtype=np.int64).T.reshape(5, -1),
        (TextCodes(ids), TextCodes(dims)),
        (ids, dims),
    )


def written_rows(delta: EncodedDelta) -> dict[NodeKey, NodeRow]:
    """The node rows a delta writes, its encoded ones decoded."""
    nodes = dict(delta.plain.nodes)
    if delta.node_copy is not None:
        nodes.update(decode_nodes(delta.node_copy))
    return nodes
