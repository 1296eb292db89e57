"""Prometheus metrics of the allocator service."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "ALLOCATE_SECONDS",
    "CONSUMER_LAG",
    "DAYS_STORED",
    "ENGINES_BUILT",
    "EVENTS",
    "INGEST_TO_APPLIED",
    "INGEST_TO_FLOWS_STORED",
    "INGEST_TO_ROUTED",
    "INGEST_TO_STORED",
    "PASS_REST_SECONDS",
    "PASS_SECONDS",
    "RECOMPUTE_SECONDS",
    "REGISTRY",
    "ROWS_SKIPPED",
    "ROWS_WRITTEN",
    "STORE_SECONDS",
    "observe_many",
]

REGISTRY = CollectorRegistry()
EVENTS = Counter(
    "finops_allocator_events_total",
    "Events handled, by topic and outcome.",
    ["topic", "outcome"],
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "finops_allocator_consumer_lag_messages",
    "Messages not yet processed on the partitions this worker owns, by topic.",
    ["topic"],
    registry=REGISTRY,
)
_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
RECOMPUTE_SECONDS = Histogram(
    "finops_allocator_recompute_duration_seconds",
    "Time to allocate one charge date and store its results.",
    buckets=_SECONDS,
    registry=REGISTRY,
)
ALLOCATE_SECONDS = Histogram(
    "finops_allocator_allocate_seconds",
    "Time to allocate one charge date (in the compute process, with the transfers).",
    buckets=_SECONDS,
    registry=REGISTRY,
)
STORE_SECONDS = Histogram(
    "finops_allocator_store_seconds",
    "Time to store one charge date's changed node rows and shares (one"
    " transaction) and announce them.",
    buckets=_SECONDS,
    registry=REGISTRY,
)
PASS_SECONDS = Histogram(
    "finops_allocator_pass_seconds",
    "Time of one recompute pass over every dirty charge date.",
    buckets=_SECONDS,
    registry=REGISTRY,
)
PASS_REST_SECONDS = Gauge(
    "finops_allocator_pass_rest_seconds",
    "The rest before the next recompute pass, while results are fresher than"
    " ALLOCATOR_FRESHNESS_TARGET_S.",
    registry=REGISTRY,
)
ROWS_WRITTEN = Counter(
    "finops_allocator_rows_written_total",
    "Rows written or deleted, by kind (nodes; shares: the rows flows are derived"
    " from).",
    ["kind"],
    registry=REGISTRY,
)
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60)


def _latency(name: str, documentation: str) -> Histogram:
    """Seconds from an input event's occurred_at to one step of its way."""
    return Histogram(
        f"finops_allocator_ingest_to_{name}_seconds",
        documentation,
        buckets=_LATENCY_BUCKETS,
        registry=REGISTRY,
    )


INGEST_TO_STORED = _latency(
    "stored",
    "From an input event's occurred_at to the results of a charge date it changed "
    "being stored (one observation per event and date written).",
)
INGEST_TO_ROUTED = _latency(
    "routed",
    "From a source event's occurred_at to its pieces being delivered to the inputs "
    "topic by the router (one observation per event).",
)
INGEST_TO_APPLIED = _latency(
    "applied",
    "From an input event's occurred_at to its piece of a charge date being folded "
    "into the worker's inputs (routing and the inputs topic; one observation per "
    "event and date).",
)
INGEST_TO_FLOWS_STORED = _latency(
    "flows_stored",
    "From an input event's occurred_at to the flows of a charge date it changed "
    "being visible to readers (its node rows and shares committed: flows are "
    "derived from them in PostgreSQL).",
)
DAYS_STORED = Counter(
    "finops_allocator_days_stored_total",
    "Charge dates recomputed, by outcome (stored, unchanged, error).",
    ["outcome"],
    registry=REGISTRY,
)
ENGINES_BUILT = Counter(
    "finops_allocator_engines_built_total",
    "Charge dates allocated from scratch instead of updating a kept engine, by why.",
    ["reason"],
    registry=REGISTRY,
)
ROWS_SKIPPED = Counter(
    "finops_allocator_rows_skipped_total",
    "Cost and usage rows naming nodes the graph does not have (yet).",
    registry=REGISTRY,
)


def observe_many(histogram: Histogram, samples: Iterable[tuple[float, int]]) -> None:
    """`histogram.observe(value)` `count` times for each (value, count), with one
    increment per bucket touched: a piece's events are thousands of observations
    a second, each a lock and a bucket scan in prometheus_client.

    Reads the histogram's bucket bounds and counters (prometheus_client's
    attributes of a Histogram without labels, or of one child of a labelled one);
    the exposition is exactly that of observing one value at a time."""
    bounds: list[float] = histogram._upper_bounds
    counts = [0] * len(bounds)
    total = 0.0
    for value, count in samples:
        if count > 0:
            counts[bisect_left(bounds, value)] += count  # the first bound >= value
            total += value * count
    for bucket, count in zip(histogram._buckets, counts, strict=True):
        if count:
            bucket.inc(count)
    if any(counts):
        histogram._sum.inc(total)
