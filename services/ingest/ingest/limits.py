"""Limits on what a delivery may cost the server: body size and gzip expansion."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from finops.errors import InputError

__all__ = ["BodyTooLargeError", "InputLimits", "check_gzip"]

_CHUNK: Final = 1 << 20


class BodyTooLargeError(InputError):
    """The request body passed the configured size (HTTP 413)."""


@dataclass(frozen=True, slots=True)
class InputLimits:
    """Configured limits (0: none)."""

    max_body_bytes: int = 0
    max_expanded_bytes: int = 0  # of a gzip file, decompressed
    max_gzip_ratio: float = 0.0  # decompressed size / compressed size


def check_gzip(path: Path, limits: InputLimits, *, file: str) -> None:
    """Refuse a gzip file whose decompressed size or expansion ratio passes the
    limits, decompressing in bounded chunks (a bomb never fills memory or disk)."""
    if not (limits.max_expanded_bytes or limits.max_gzip_ratio):
        return
    compressed = max(path.stat().st_size, 1)
    ceiling = limits.max_expanded_bytes or float("inf")
    if limits.max_gzip_ratio:
        ceiling = min(ceiling, limits.max_gzip_ratio * compressed)
    expanded = 0
    try:
        with path.open("rb") as data:
            for size in _inflated_sizes(data):
                expanded += size
                if expanded > ceiling:
                    raise InputError(_why(expanded, compressed, limits), file=file)
    except zlib.error:
        return  # not gzip after all, or broken: the reader says so, naming the line


def _inflated_sizes(data: BinaryIO) -> Iterator[int]:
    """Sizes of the decompressed pieces of a gzip stream (members one after another),
    at most _CHUNK bytes each."""
    inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)
    while chunk := data.read(_CHUNK):
        while chunk:
            yield len(inflate.decompress(chunk, _CHUNK))
            if inflate.eof:
                chunk = inflate.unused_data
                inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)
            else:
                chunk = inflate.unconsumed_tail


def _why(expanded: int, compressed: int, limits: InputLimits) -> str:
    return (
        f"gzip expands past the configured limit (over {expanded:,} bytes from"
        f" {compressed:,}; INGEST_MAX_EXPANDED_BYTES={limits.max_expanded_bytes:,},"
        f" INGEST_MAX_GZIP_RATIO={limits.max_gzip_ratio:g})"
    )
