"""What the allocator's /healthz says beyond its connections: the router advances
while there is something to route, the graph follower runs, the last pass worked."""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["AllocatorHealth", "Health"]


@dataclass(frozen=True, slots=True)
class Health:
    """A check's answer: whether it passed and, if not, why."""

    ok: bool
    reason: str = ""


class AllocatorHealth:
    """Collects what the loops report; `check()` is the /healthz check."""

    def __init__(self, *, stall_s: float) -> None:
        self._stall_s = stall_s
        self._pass_failure = ""
        self._pass_failing_since: float | None = None
        self._graph_failure = ""

    def pass_failed(self, reason: str) -> None:
        """A recompute pass failed (its dates are retried)."""
        if self._pass_failing_since is None:
            self._pass_failing_since = time.monotonic()
        self._pass_failure = reason

    def pass_done(self) -> None:
        """A recompute pass ended normally."""
        self._pass_failing_since, self._pass_failure = None, ""

    def graph_stopped(self, reason: str) -> None:
        """The graph follower ended (the service stops too)."""
        self._graph_failure = reason

    def check(self, *, lag: int, idle_s: float, router_failure: str) -> Health:
        """503 reasons, most telling first: the follower died, a pass fails, the
        router fails, the router has not advanced for stall_s while lag > 0."""
        if self._graph_failure:
            return Health(False, f"graph follower stopped: {self._graph_failure}")
        if self._pass_failing_since is not None:
            return Health(False, f"recompute pass failing: {self._pass_failure}")
        if router_failure:
            return Health(False, f"routing failing: {router_failure}")
        if lag > 0 and idle_s > self._stall_s:
            return Health(
                False,
                f"router has not advanced for {idle_s:.0f} s with {lag} messages"
                " waiting",
            )
        return Health(True)
