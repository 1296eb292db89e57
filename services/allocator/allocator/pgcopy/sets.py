"""Share sets in PostgreSQL's binary COPY format (pure; no driver needed): one row per
parent and group of dimensions with one set, (from_node TEXT, dimension TEXT,
dimensions TEXT[], to_nodes TEXT[], strategies TEXT[], shares DOUBLE PRECISION[],
retained DOUBLE PRECISION), laid out by numpy; `dimension` is the group's first.

The rows given are those of whole sets (allocator.compute.shares: a row per child,
position 0..parts-1, and the retained share at position = parts). Every field of a
set, its arrays' elements too, is a slice of one byte pool (the texts' encoded fields,
the arrays' headers, the floats), so the data is gathered in one indexing step
(migration 0080, decision 0270).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from allocator.pgcopy.format import HEADER, TRAILER, CopyRows

__all__ = ["SET_COLUMNS", "TextPool", "encode_share_sets"]

SET_COLUMNS = (
    "from_node",
    "dimension",
    "dimensions",
    "to_nodes",
    "strategies",
    "shares",
    "retained",
)
_TEXT_OID, _FLOAT8_OID = 25, 701
# Per set: the array headers of to_nodes, strategies and shares (each: the field's
# length, then ndim 1, no nulls, the element type, the length, lower bound 1).
_HEADERS = np.dtype(
    [("nodes", ">i4", 6), ("strategies", ">i4", 6), ("shares", ">i4", 6)]
)
_FLOAT = np.dtype([("size", ">i4"), ("value", ">f8")])  # a float8 field or element
_FIELDS = np.array([len(SET_COLUMNS)], dtype=">i2")


class TextPool:
    """Texts as binary COPY fields (length, then UTF-8), end to end in one buffer."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._fill([t.encode() for t in texts])

    @classmethod
    def of_fields(cls, fields: Sequence[bytes]) -> TextPool:
        """A pool of other binary fields (each given without its length)."""
        pool = cls.__new__(cls)
        pool._fill(fields)
        return pool

    def _fill(self, fields: Sequence[bytes]) -> None:
        raw = [len(b).to_bytes(4, "big") + b for b in fields]
        self.data = np.frombuffer(b"".join(raw), dtype=np.uint8)
        self.size = np.array([len(r) for r in raw], dtype=np.int64)
        self.start = np.cumsum(self.size) - self.size


def encode_share_sets(
    columns: tuple[NDArray[np.int64], ...],
    share: NDArray[np.float64],
    texts: tuple[TextPool, TextPool, TextPool],
    dimension_names: Sequence[str],
) -> CopyRows:
    """Sets given as rows: columns are each row's (parent, child, dimension,
    position, strategy, group) codes and `share` its share, texts the (nodes,
    dimensions, strategies) pools. Every set must be whole (positions 0..parts, the
    retained share last). A group is the bit mask of the set's dimensions (by index
    in `dimension_names`), or -1 - d for dimension d alone; `dimension` is its first."""
    parent, child, dimension, position, strategy, group = columns
    if not parent.size:
        return CopyRows(HEADER + TRAILER, 0, frozenset())
    order = np.lexsort((position, dimension, parent))
    parent, child, dimension, position, strategy, group = (
        c[order] for c in (parent, child, dimension, position, strategy, group)
    )
    share = share[order]
    last = np.flatnonzero(
        np.append((parent[1:] != parent[:-1]) | (dimension[1:] != dimension[:-1]), True)
    )  # each set's retained row
    parts = np.diff(np.concatenate([[-1], last])) - 1  # children per set
    if parts.size and (parts.min() < 1 or (position[last] != parts).any()):
        raise ValueError("share sets must be whole: positions 0..parts, retained last")
    kids = np.ones(parent.size, dtype=bool)
    kids[last] = False
    present, per_set = np.unique(group[last], return_inverse=True)
    per_set = per_set.reshape(-1)
    listed = [_members(int(g), len(dimension_names)) for g in present.tolist()]
    firsts = np.array([dims[0] for dims in listed], dtype=np.int64)
    if (firsts[per_set] != dimension[last]).any():
        raise ValueError("a set's dimension must be the first of its group")
    lists = _text_list_pool([[dimension_names[d] for d in dims] for dims in listed])
    return CopyRows(
        HEADER
        + _body(
            parent[last],
            dimension[last],
            per_set,
            parts,
            child[kids],
            strategy[kids],
            share[kids],
            share[last],
            (*texts, lists),
        )
        + TRAILER,
        int(last.size),
        frozenset(dimension_names[d] for dims in listed for d in dims),
    )


def _members(group: int, n_dims: int) -> list[int]:
    """The dimensions (indices) of a group: its mask's bits, or the one it names."""
    if group < 0:
        return [-1 - group]
    return [d for d in range(n_dims) if group >> d & 1]


def _text_list_pool(lists: Sequence[Sequence[str]]) -> TextPool:
    """Lists of texts as binary COPY TEXT[] fields (length, array header, elements),
    end to end in one buffer."""
    fields = []
    for texts in lists:
        header = struct.pack(">iiiii", 1, 0, _TEXT_OID, len(texts), 1)
        fields.append(header + TextPool(texts).data.tobytes())  # the elements
    return TextPool.of_fields(fields)


def _body(
    parent: NDArray[np.int64],
    dimension: NDArray[np.int64],
    group: NDArray[np.int64],
    parts: NDArray[np.int64],
    child: NDArray[np.int64],
    strategy: NDArray[np.int64],
    share: NDArray[np.float64],
    retained: NDArray[np.float64],
    texts: tuple[TextPool, TextPool, TextPool, TextPool],
) -> bytes:
    """The sets' rows: a list of slices of one pool, gathered at once (`group`: each
    set's list of dimensions in the last pool)."""
    nodes, dims, strategies, lists = texts
    n_sets = parts.size
    owner = np.repeat(np.arange(n_sets), parts)  # each child row's set
    headers = np.zeros(n_sets, dtype=_HEADERS)
    for name, elements, oid in (
        ("nodes", np.bincount(owner, nodes.size[child], n_sets), _TEXT_OID),
        (
            "strategies",
            np.bincount(owner, strategies.size[strategy], n_sets),
            _TEXT_OID,
        ),
        ("shares", 12 * parts, _FLOAT8_OID),
    ):
        column = headers[name]
        column[:, 0] = 20 + elements.astype(np.int64)  # the field's length
        column[:, 1], column[:, 3], column[:, 4], column[:, 5] = 1, oid, parts, 1
    values = np.empty(child.size, dtype=_FLOAT)
    values["size"], values["value"] = 8, share
    kept = np.empty(n_sets, dtype=_FLOAT)
    kept["size"], kept["value"] = 8, retained
    pool, bases = _pool(
        _FIELDS.view(np.uint8),
        nodes.data,
        dims.data,
        lists.data,
        strategies.data,
        headers.view(np.uint8),
        values.view(np.uint8),
        kept.view(np.uint8),
    )
    fields, node_at, dim_at, list_at, strategy_at, header_at, value_at, kept_at = bases
    # Per set, in order: fields, from_node, dimension, dimensions, to_nodes' header,
    # its elements, strategies' header, its elements, shares' header, its elements,
    # retained.
    per_set = 2 * parts + 9
    first = np.cumsum(per_set) - per_set
    start = np.empty(int(per_set.sum()), dtype=np.int64)
    size = np.empty_like(start)
    fixed = (
        (0, fields, 2),
        (1, node_at + nodes.start[parent], nodes.size[parent]),
        (2, dim_at + dims.start[dimension], dims.size[dimension]),
        (3, list_at + lists.start[group], lists.size[group]),
        (4, header_at + 72 * np.arange(n_sets), 24),
    )
    for offset, at, width in fixed:
        start[first + offset], size[first + offset] = at, width
    rank = np.arange(child.size) - np.repeat(
        first_child := np.cumsum(parts) - parts, parts
    )
    kid_slot = first[owner] + 5 + rank
    start[kid_slot], size[kid_slot] = node_at + nodes.start[child], nodes.size[child]
    slot = first + 5 + parts
    start[slot], size[slot] = header_at + 72 * np.arange(n_sets) + 24, 24
    kid_slot += parts[owner] + 1
    start[kid_slot] = strategy_at + strategies.start[strategy]
    size[kid_slot] = strategies.size[strategy]
    slot = first + 6 + 2 * parts
    start[slot], size[slot] = header_at + 72 * np.arange(n_sets) + 48, 24
    slot += 1
    start[slot], size[slot] = value_at + 12 * first_child, 12 * parts
    slot += 1
    start[slot], size[slot] = kept_at + 12 * np.arange(n_sets), 12
    out_at = np.cumsum(size) - size
    index = np.repeat(start - out_at, size) + np.arange(int(size.sum()))
    return bytes(pool[index].tobytes())


def _pool(*parts: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], list[int]]:
    """The parts end to end, and where each starts."""
    sizes = [p.size for p in parts]
    bases = np.cumsum([0, *sizes[:-1]]).tolist()
    return np.concatenate(parts), bases
