"""PostgreSQL's binary COPY format: header, trailer, text fields laid out by numpy."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "HEADER",
    "TRAILER",
    "CopyRows",
    "TextCodes",
    "fixed_width_groups",
    "present_codes",
]

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # no flags, no extension
TRAILER = struct.pack(">h", -1)
_TEXT_WIDTH_LIMIT = 1 << 12  # a text field wider than this is encoded row by row


@dataclass(frozen=True)
class CopyRows:
    """Rows already encoded for `COPY ... FROM STDIN (FORMAT binary)`."""

    data: bytes
    count: int
    dimensions: frozenset[str]

    def __len__(self) -> int:
        return self.count


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
