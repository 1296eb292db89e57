"""Work shared by the calling thread and one executor thread, item by item.

NumPy releases the GIL in its loops, so two threads taking whole-array steps of
independent items finish sooner on two cores. Each thread takes the next item not
yet taken until none is left (items differ in size); the caller returns when both
are done and raises the helper's error, if any.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import TypeVar

__all__ = ["on_two_threads"]

T = TypeVar("T")


def on_two_threads(
    work: Callable[[T], None], items: Iterable[T], executor: Executor
) -> None:
    """work(item) for each item, on this thread and the executor's."""
    queue = iter(items)  # next() on it is atomic under the GIL

    def take() -> None:
        for item in queue:
            work(item)

    helper = executor.submit(take)
    try:
        take()
    finally:
        helper.result()  # its error, if any; never leaves it running
