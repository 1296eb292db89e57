"""How long the recompute loop rests between passes: as long as results stay fresher
than a target, so that each pass folds in more events (decision 0310).

A busy date costs about the same to recompute and store whatever number of events
changed it, so passes run back to back spend CPU on freshness nobody asked for.
After each pass the rest moves by a share of the gap between the target and the
median latency (ingest -> stored) of the events that pass stored: it grows while
results are fresher than the target and shrinks, down to nothing, when they are
not. A rest never exceeds three times the pass before it (`SHARE`), so a lightly loaded
worker, whose passes are short, still answers within a few of them (decisions 0350,
0400).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Pacing", "weighted_median"]

GAIN = 0.5  # share of the latency gap the rest moves by after each pass
SHARE = 3.0  # a rest is at most this share of the pass before it (1.0, then 2.0: 0400)
MAX_REST_S = 1.0  # and never longer than this


class Pacing:
    """The rest after each pass, steered by the latencies the pass stored."""

    def __init__(self, target_s: float) -> None:
        self.target_s = target_s
        self._latencies: list[tuple[float, int]] = []
        self.rest_s = 0.0  # the rest after the last pass, where the gaps steered it

    def stored(self, latencies: Iterable[tuple[float, int]]) -> None:
        """Events stored by the pass under way: (seconds since ingest, count)."""
        self._latencies.extend(latencies)

    def rest_after(self, took_s: float) -> float:
        """The rest before the next pass, given the one that took `took_s`; its
        latencies are forgotten."""
        median = weighted_median(self._latencies)
        self._latencies = []
        rest = self.rest_s
        if median is not None:
            rest += GAIN * (self.target_s - median)
        # Held to the rest it allows, so a long quiet spell does not store up a
        # rest that would delay the first busy passes after it.
        cap = min(MAX_REST_S, SHARE * took_s)
        self.rest_s = min(max(rest, 0.0), cap)
        return self.rest_s


def weighted_median(values: Iterable[tuple[float, int]]) -> float | None:
    """The median of values given with their counts (None when there are none)."""
    ordered = sorted((v, n) for v, n in values if n > 0)
    total = sum(n for _, n in ordered)
    if not total:
        return None
    seen = 0
    for value, n in ordered:
        seen += n
        if 2 * seen >= total:
            return value
    raise AssertionError("unreachable")  # pragma: no cover
