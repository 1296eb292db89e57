"""When a failed delivery is tried again: exponential back-off with jitter, for a day.

Attempt 1 is immediate; after a failure the next waits 5 s, 30 s, 2 min, 10 min,
30 min, 1 h, 2 h, 4 h, 8 h, then 8 h (about 23.5 h after the first), each +-20 %
jitter. After attempt 11 the delivery is dead (re-send with `finops webhooks
redeliver ID`). A `Retry-After` of the receiver replaces the wait when it is longer,
up to a day.
"""

from __future__ import annotations

import random
from typing import Final

__all__ = ["BACKOFF_S", "MAX_ATTEMPTS", "next_wait_s"]

BACKOFF_S: Final = (5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800, 28_800)
MAX_ATTEMPTS: Final = len(BACKOFF_S) + 1
_DAY_S: Final = 86_400.0
_JITTER: Final = 0.2


def next_wait_s(
    attempts: int,
    *,
    retry_after_s: float | None = None,
    scale: float = 1.0,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds before the next attempt after `attempts` failed ones, None when none.

    `scale` shrinks the schedule (tests, the demo's accelerated clock)."""
    if attempts >= MAX_ATTEMPTS:
        return None
    base = BACKOFF_S[attempts - 1] * scale
    jitter = (rng or random).uniform(1 - _JITTER, 1 + _JITTER)
    wait = base * jitter
    if retry_after_s is not None:
        wait = max(wait, min(retry_after_s, _DAY_S))
    return wait
