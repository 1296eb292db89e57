"""Blocking iterators (Arrow readers) consumed from the event loop, one batch ahead."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

__all__ = ["iterate_in_thread"]

T = TypeVar("T")


class _End(enum.Enum):
    """The end of an iterator (an enum member, so `is not _END` narrows the type)."""

    END = enum.auto()


_END: Final = _End.END


async def iterate_in_thread(
    make: Callable[[], Iterator[T]],
) -> AsyncGenerator[T, None]:
    """Items of a blocking iterator, each read in a worker thread.

    The next item is read while the caller handles the current one, so reading and
    writing overlap; an error of the iterator is raised where the item would be.
    """
    loop = asyncio.get_running_loop()
    # One thread per iterator: its buffers stay in one malloc arena.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reader") as thread:
        iterator = await loop.run_in_executor(thread, make)
        pending = loop.run_in_executor(thread, next, iterator, _END)
        try:
            while (item := await pending) is not _END:
                pending = loop.run_in_executor(thread, next, iterator, _END)
                yield item
        finally:
            if not pending.done():
                await asyncio.wait([pending])
