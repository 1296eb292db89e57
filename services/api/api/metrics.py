"""Prometheus metrics of the api service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

__all__ = ["EVENTS", "REGISTRY"]

REGISTRY = CollectorRegistry()
EVENTS = Counter(
    "finops_api_events_total",
    "Events handled, by topic and outcome.",
    ["topic", "outcome"],
    registry=REGISTRY,
)
