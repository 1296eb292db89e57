"""Prometheus metrics of the governance service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

__all__ = ["EVENTS", "REGISTRY"]

REGISTRY = CollectorRegistry()
EVENTS = Counter(
    "finops_governance_events_total",
    "Events handled, by topic and outcome.",
    ["topic", "outcome"],
    registry=REGISTRY,
)
