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
