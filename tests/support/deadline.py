"""A time limit for a test that waits on a condition; failing, it names the wait."""

from __future__ import annotations

import time

__all__ = ["Deadline"]


class Deadline:
    """`seconds` from now; `check()` fails once they have passed, naming the wait.

    A loop that polls calls `check()` each time round, so a condition that never holds
    fails the test with a message instead of hanging it (pytest-timeout is the last
    resort and says less).
    """

    def __init__(self, seconds: float, waiting_for: str) -> None:
        self.seconds = seconds
        self.waiting_for = waiting_for
        self._end = time.monotonic() + seconds

    def expired(self) -> bool:
        """Whether the time is up."""
        return time.monotonic() >= self._end

    def remaining(self) -> float:
        """Seconds left, at least 0."""
        return max(0.0, self._end - time.monotonic())

    def check(self, detail: str = "") -> None:
        """Fail (AssertionError) if the time is up; `detail` says what was seen last."""
        if self.expired():
            seen = f"; {detail}" if detail else ""
            raise AssertionError(
                f"waited {self.seconds:g} s for {self.waiting_for}{seen}"
            )
