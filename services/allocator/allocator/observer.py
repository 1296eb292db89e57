"""The metrics of recompute passes and writes, reported in one place."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import Histogram
from prometheus_client.context_managers import Timer

from allocator import metrics
from allocator.pacing import Pacing

if TYPE_CHECKING:
    from allocator.compute.livedays import Computed
    from allocator.pgcopy.delta import EncodedDelta

__all__ = ["MetricsObserver"]

Clock = Callable[[], datetime]


class MetricsObserver:
    """What the service and its write pipeline did, as the allocator's metrics; the
    latencies of what a pass stored also go to its pacing (decision 0310)."""

    def __init__(self, clock: Clock, pacing: Pacing | None = None) -> None:
        self._clock = clock
        self._pacing = pacing  # told the latency of every event whose flows are visible

    def applied(self, waits: Iterable[tuple[datetime, int]]) -> None:
        """Events folded into a date's inputs."""
        self._waits(metrics.INGEST_TO_APPLIED, waits)

    def allocating(self) -> Timer:
        """Times one date's allocation (a context manager)."""
        return metrics.ALLOCATE_SECONDS.time()

    def allocated(self, computed: Computed) -> None:
        """A date allocated: rows left out, and why its engine was built, if it was."""
        metrics.ROWS_SKIPPED.inc(computed.skipped)
        if computed.built:
            metrics.ENGINES_BUILT.labels(computed.built).inc()

    def unchanged(self) -> None:
        """A date recomputed whose stored rows stay as they are."""
        metrics.DAYS_STORED.labels("unchanged").inc()

    def failed(self) -> None:
        """A date whose inputs could not be allocated."""
        metrics.DAYS_STORED.labels("error").inc()

    def nodes_stored(
        self,
        delta: EncodedDelta,
        waits: Iterable[tuple[datetime, int]],
        *,
        seconds: float,
    ) -> None:
        """A date's node rows stored, `seconds` after its recompute began."""
        metrics.RECOMPUTE_SECONDS.observe(seconds)
        metrics.DAYS_STORED.labels("stored").inc()
        rows = delta.nodes_written + len(delta.plain.nodes_removed)
        metrics.ROWS_WRITTEN.labels("nodes").inc(rows)
        self._waits(metrics.INGEST_TO_STORED, waits)

    def flows_stored(
        self, delta: EncodedDelta, waits: Iterable[tuple[datetime, int]]
    ) -> None:
        """A date's new flows visible to readers: its node rows and shares
        committed (flows are derived from them)."""
        metrics.ROWS_WRITTEN.labels("shares").inc(delta.shares_written)
        latencies = self._waits(metrics.INGEST_TO_FLOWS_STORED, waits)
        if self._pacing is not None:
            self._pacing.stored(latencies)

    def store_took(self, seconds: float) -> None:
        """One write of a date's node rows and shares (and their announcements)."""
        metrics.STORE_SECONDS.observe(seconds)

    def pass_took(self, seconds: float) -> None:
        """One recompute pass over every dirty date."""
        metrics.PASS_SECONDS.observe(seconds)

    def resting(self, seconds: float) -> None:
        """The rest before the next pass (decision 0310)."""
        metrics.PASS_REST_SECONDS.set(seconds)

    def _waits(
        self, histogram: Histogram, waits: Iterable[tuple[datetime, int]]
    ) -> list[tuple[float, int]]:
        """One observation per source event behind the stored rows (a batch's
        events in one increment per bucket); returns (seconds, events) pairs."""
        now = self._clock()
        latencies = [((now - at).total_seconds(), n) for at, n in waits]
        metrics.observe_many(histogram, latencies)
        return latencies
