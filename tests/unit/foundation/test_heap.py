"""`adapters.heap.keep_freed_memory`: freed blocks are reused, not fresh pages."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from finops.adapters.heap import keep_freed_memory

# Blocks of 1 to 24 MiB, each written page by page and freed before the next, larger
# one: glibc maps each anew by default (its threshold rises only to the block just
# freed), so every page of every block is a fresh fault; kept, the heap grows by the
# difference and the rest is reused.
_SCRIPT = """
import resource, sys
if sys.argv[1] == "kept":
    from finops.adapters.heap import keep_freed_memory
    assert keep_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for mib in range(1, 25):
    size = mib << 20
    block = bytearray(size)
    block[::4096] = bytes(len(range(0, size, 4096)))
    del block
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
_GLIBC = platform.libc_ver()[0] == "glibc"


def _faults(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, mode],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


@pytest.mark.skipif(not _GLIBC, reason="mallopt is glibc's")
def test_freed_blocks_are_reused_under_glibc() -> None:
    pages = sum(range(1, 25)) * 256  # every page of every block: 76,800
    assert _faults("default") > pages * 0.9
    assert _faults("kept") < pages * 0.2  # the largest block's pages, and a few


def test_says_whether_the_c_library_took_it() -> None:
    assert keep_freed_memory() is _GLIBC
