"""Every Kafka topic: name, partitions, clean-up policy. The one place they live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "ALLOCATIONS",
    "ALLOCATOR_INPUTS",
    "ALL_TOPICS",
    "BUDGET_ALERTS",
    "COST_LINES",
    "GRAPH",
    "NODE_COSTS",
    "USAGE",
    "TopicSpec",
    "dead_letter_of",
    "topic_name",
]


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic as the code declares it; created at start-up when missing."""

    name: str
    partitions: int
    compacted: bool
    key: str  # what messages are keyed by, for per-key order
    doc: str
    retention_ms: int | None = None  # None: the broker's default; -1: forever

    @property
    def config(self) -> dict[str, str]:
        policy = "compact" if self.compacted else "delete"
        config = {"cleanup.policy": policy}
        if self.retention_ms is not None:
            config["retention.ms"] = str(self.retention_ms)
        return config


# Messages carry batches or differences, so a later message never supersedes an earlier
# one with the same key: no topic of ours is compacted (Faust's changelogs are).
_FOREVER: Final = -1
_THIRTY_DAYS_MS: Final = 30 * 24 * 3600 * 1000

GRAPH: Final = TopicSpec(
    "finops.graph.v1",
    1,
    False,
    "graph id",
    "Graph changes in order; replayed from the start to rebuild the graph.",
    retention_ms=_FOREVER,
)
COST_LINES: Final = TopicSpec(
    "finops.cost-lines.v1",
    6,
    False,
    "billing account",
    "Normalised FOCUS line batches; outside producers may write here directly.",
    retention_ms=_THIRTY_DAYS_MS,
)
NODE_COSTS: Final = TopicSpec(
    "finops.node-costs.v1",
    6,
    False,
    "charge date",
    "Direct cost of nodes per day and dimension, as set by one source.",
    retention_ms=_THIRTY_DAYS_MS,
)
USAGE: Final = TopicSpec(
    "finops.usage.v1",
    6,
    False,
    "charge date",
    "Usage figures of nodes per day and metric.",
    retention_ms=_THIRTY_DAYS_MS,
)
ALLOCATIONS: Final = TopicSpec(
    "finops.allocations.v1",
    6,
    False,
    "charge date",
    "Allocation results for each recomputed day and dimension.",
)
ALLOCATOR_INPUTS: Final = TopicSpec(
    "finops.allocator-inputs.v1",
    6,
    False,
    "charge date",
    "The allocator's costs and usage re-keyed by the charge date they affect.",
    retention_ms=_THIRTY_DAYS_MS,
)
BUDGET_ALERTS: Final = TopicSpec(
    "finops.budget-alerts.v1",
    3,
    False,
    "budget id",
    "Budget threshold and forecast alerts.",
)

_SOURCES: Final = (
    GRAPH,
    COST_LINES,
    NODE_COSTS,
    USAGE,
    ALLOCATIONS,
    ALLOCATOR_INPUTS,
    BUDGET_ALERTS,
)


def dead_letter_of(spec: TopicSpec) -> TopicSpec:
    """The dead-letter topic of a topic: what it could not take, with reasons."""
    return TopicSpec(
        f"{spec.name}.dlq", 1, False, spec.key, f"Dead letters of {spec.name}."
    )


# Every topic a consumer reads has a dead-letter topic (what it could not use, and why).
ALL_TOPICS: Final = (*_SOURCES, *(dead_letter_of(spec) for spec in _SOURCES))


def topic_name(spec: TopicSpec, namespace: str = "") -> str:
    """The topic's name in a namespace (tests use one each); empty: as declared."""
    return f"{namespace}.{spec.name}" if namespace else spec.name
