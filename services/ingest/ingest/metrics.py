"""Prometheus metrics of the ingest service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

__all__ = ["REGISTRY", "EVENTS"]

REGISTRY = CollectorRegistry()
EVENTS = Counter(
    "finops_ingest_events_total",
    "Events handled, by topic and outcome.",
    ["topic", "outcome"],
    registry=REGISTRY,
)
