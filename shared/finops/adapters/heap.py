"""glibc's malloc told to keep the memory a process frees, for the next allocation.

By default glibc gives each block over 128 KiB its own mapping and hands it back
when freed (it raises that bound, up to 32 MiB, only as blocks are freed), and it
trims the heap's free top. Arrays the allocation engine makes and drops by the
thousand (shares, parts, masks: a few MiB each) then start on fresh pages every
time, and each fresh page is a fault that clears 4 KiB. On the 2-core VM this
project is measured on a fault costs ~3 µs, and `finops allocate` on 5,000 nodes
and 90 days took ~77,000 of them (decision 0370). Kept memory is reused instead:
blocks up to the 32 MiB maximum come from the heap, and its top is never trimmed.

For processes that do one job and end (the `finops` program), or whose memory
stays at its high-water mark anyway. Elsewhere (musl, macOS) nothing changes.
"""

from __future__ import annotations

import ctypes
from typing import Final

__all__ = ["arrow_on_the_heap", "keep_freed_memory"]

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3
_M_ARENA_MAX: Final = -8
_MMAP_THRESHOLD_MAX: Final = 32 * 1024 * 1024  # glibc's upper bound on 64-bit
_NEVER_TRIM: Final = 2**31 - 1  # an int; glibc takes it as bytes of free top


def keep_freed_memory() -> bool:
    """Blocks up to 32 MiB from the heap, never trimmed, and one heap for every
    thread (what the reading threads free, the engine's reuse); True when glibc
    took it. Call it before the process starts its threads."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # no C library here, or not glibc's malloc
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
        and mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM)
        and mallopt(_M_ARENA_MAX, 1)
    )


def arrow_on_the_heap() -> None:
    """Arrow's buffers from malloc (this heap) instead of its own jemalloc, whose
    freed memory only Arrow reuses: the cost file's blocks, summed and freed, make
    room for the engine's arrays."""
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
