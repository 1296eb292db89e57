"""Prometheus metrics of the governance service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = [
    "ALERTS",
    "DELIVERIES",
    "DELIVERY_SECONDS",
    "EVALUATION_SECONDS",
    "EVENTS",
    "REGISTRY",
]

REGISTRY = CollectorRegistry()
EVENTS = Counter(
    "finops_governance_events_total",
    "Events handled, by topic and outcome.",
    ["topic", "outcome"],
    registry=REGISTRY,
)
EVALUATION_SECONDS = Histogram(
    "finops_governance_evaluation_seconds",
    "Time of one evaluation pass over the budgets an event touched.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)
ALERTS = Counter(
    "finops_governance_alerts_total",
    "Budget alerts and resolutions recorded.",
    ["status"],
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "finops_governance_webhook_attempts_total",
    "Webhook and executor delivery attempts, by outcome (delivered, failed, dead).",
    ["outcome"],
    registry=REGISTRY,
)
DELIVERY_SECONDS = Histogram(
    "finops_governance_webhook_latency_seconds",
    "Time from sending a webhook to its answer.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
