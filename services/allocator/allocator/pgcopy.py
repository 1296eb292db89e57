"""Flow rows in PostgreSQL's binary COPY format (pure; no driver needed).

A busy date writes tens of thousands of flow rows every few seconds. Encoded in the
compute process, they reach the worker as one bytes object that the driver passes on
as it is, instead of tuples to unpickle and encode on the event loop.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["FLOW_COLUMNS", "CopyRows", "encode_flows"]

FLOW_COLUMNS = ("from_node", "to_node", "dimension", "amount", "strategy", "share")
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # no flags, no extension
_TRAILER = struct.pack(">h", -1)
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
    return CopyRows(_HEADER + body + _TRAILER, len(flows), dimensions)
