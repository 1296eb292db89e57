"""Prometheus metrics of the ingest service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from ingest.models import IngestResult

__all__ = [
    "DELIVERIES",
    "DURATION",
    "EVENTS",
    "PULLS",
    "REGISTRY",
    "ROWS",
    "observe_delivery",
]

REGISTRY = CollectorRegistry()
EVENTS = Counter(
    "finops_ingest_events_total",
    "Events handled, by topic and outcome.",
    ["topic", "outcome"],
    registry=REGISTRY,
)
ROWS = Counter(
    "finops_ingest_rows_total",
    "Rows read from deliveries, by format and outcome (accepted, rejected).",
    ["format", "outcome"],
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "finops_ingest_deliveries_total",
    "Deliveries taken, by origin and status (succeeded, refused, duplicate).",
    ["origin", "status"],
    registry=REGISTRY,
)
PULLS = Counter(
    "finops_ingest_pulls_total",
    "Usage pulls run, by configured pull and outcome (succeeded, refused, failed).",
    ["pull", "outcome"],
    registry=REGISTRY,
)
DURATION = Histogram(
    "finops_ingest_fetch_duration_seconds",
    "Time to read, store and publish one delivery, by format.",
    ["format"],
    registry=REGISTRY,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)


def observe_delivery(result: IngestResult, seconds: float) -> None:
    """Count one delivery's rows and outcome."""
    status = "duplicate" if result.duplicate else result.status
    DELIVERIES.labels(result.origin, status).inc()
    DURATION.labels(result.format).observe(seconds)
    if not result.duplicate:
        ROWS.labels(result.format, "accepted").inc(result.rows_accepted)
        ROWS.labels(result.format, "rejected").inc(result.rows_rejected)
