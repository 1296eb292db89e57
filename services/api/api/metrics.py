"""Prometheus metrics of the api service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["EVENTS", "REGISTRY", "REQUEST_SECONDS"]

REGISTRY = CollectorRegistry()
EVENTS = Counter(
    "finops_api_events_total",
    "Events handled, by topic and outcome.",
    ["topic", "outcome"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "finops_api_request_duration_seconds",
    "Time to answer a request, by route template, method and status code.",
    ["route", "method", "code"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
