"""A charge date's inputs as the worker holds them, and the nodes a change touched."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Container
from dataclasses import dataclass, field

from finops.domain.records import UsageRecord

__all__ = ["SEP", "DayInputs", "Touched", "usage_entry"]

SEP = "\x1f"  # never part of a node id, source or metric we accept


def usage_entry(row: UsageRecord) -> str:
    """The key of a usage row among a node's usage on a date: day, metric, labels."""
    labels = (  # most rows have none: no encoder call for them
        json.dumps(row.labels, sort_keys=True, separators=(",", ":"))
        if row.labels
        else "{}"
    )
    return f"{row.date.isoformat()}{SEP}{row.metric}{SEP}{labels}"


@dataclass
class Touched:
    """Nodes whose costs or usage changed on a date since it was last allocated."""

    costs: set[str] = field(default_factory=set)
    usage: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)  # that set them

    def add(self, other: Touched) -> None:
        """Fold another change in."""
        self.costs |= other.costs
        self.usage |= other.usage
        self.sources |= other.sources


@dataclass
class DayInputs:
    """Costs {(source, node): {dimension: micros}}; usage {(source, node): {entry: v}}
    (entries: see usage_entry)."""

    costs: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    usage: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)

    def cost_totals(
        self, known: Container[str]
    ) -> tuple[dict[tuple[str, str], int], int]:
        """Direct costs per (node, dimension) summed over sources (known nodes only),
        and the rows left out."""
        totals, _, skipped = self.cost_summary(known, known)
        return totals, skipped

    def cost_summary(
        self, nodes: Container[str], known: Container[str]
    ) -> tuple[dict[tuple[str, str], int], set[str], int]:
        """Direct costs of some known nodes summed over sources, the dimensions of
        every known node's costs, and the rows left out (a busy date's recompute
        needs no more)."""
        totals: dict[tuple[str, str], int] = defaultdict(int)
        dimensions: set[str] = set()
        skipped = 0
        for (_, node), amounts in self.costs.items():
            if node not in known:
                skipped += len(amounts)
                continue
            dimensions.update(amounts)
            if node in nodes:
                for dimension, micros in amounts.items():
                    totals[(node, dimension)] += micros
        return totals, dimensions, skipped

    def usage_skipped(self, known: Container[str]) -> int:
        """Usage rows naming nodes the graph lacks."""
        return sum(len(e) for (_, n), e in self.usage.items() if n not in known)
