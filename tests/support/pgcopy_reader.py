"""Reads flow rows back from PostgreSQL's binary COPY format (for tests)."""

from __future__ import annotations

import struct

from allocator.pgcopy import CopyRows

_HEADER = 19  # signature (11), flags (4), header extension length (4)


def decode_flows(rows: CopyRows) -> dict[tuple[str, str, str], tuple[int, str, float]]:
    """The {(from, to, dimension): (amount, strategy, share)} that were encoded."""
    data, at, found = rows.data, _HEADER, {}
    assert data.startswith(b"PGCOPY\n\xff\r\n\x00")

    def field() -> bytes:
        nonlocal at
        (size,) = struct.unpack_from(">i", data, at)
        value = data[at + 4 : at + 4 + size]
        at += 4 + size
        return value

    while struct.unpack_from(">h", data, at)[0] != -1:
        at += 2
        parent, child, dimension = (field().decode() for _ in range(3))
        (amount,) = struct.unpack(">q", field())
        strategy = field().decode()
        (share,) = struct.unpack(">d", field())
        found[(parent, child, dimension)] = (amount, strategy, share)
    assert len(found) == rows.count and at + 2 == len(data)
    return found


def encode_by_arrays(
    flows: dict[tuple[str, str, str], tuple[int, str, float]],
) -> CopyRows:
    """encode_flow_arrays of the same rows as encode_flows(flows) takes."""
    import numpy as np

    from allocator.pgcopy import TextCodes, encode_flow_arrays

    nodes = sorted({n for p, c, _ in flows for n in (p, c)})
    dims = sorted({k for _, _, k in flows})
    strategies = sorted({s for _, s, _ in flows.values()})
    codes = [{name: i for i, name in enumerate(v)} for v in (nodes, dims, strategies)]
    node, dim, strategy = codes

    def column(values: list[int]) -> np.ndarray:  # type: ignore[type-arg]
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
