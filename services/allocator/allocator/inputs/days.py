"""A charge date's inputs as the worker holds them, and the nodes a change touched."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Container
from dataclasses import dataclass, field

from finops.domain.records import UsageRecord

__all__ = ["DayInputs", "Touched", "entry_parts", "normal_entry", "usage_entry"]

# Entries written before issue 16 joined day, metric and labels with U+001F
# (docs/decisions/0210-structured-allocator-keys.md); they are still read.
_LEGACY_SEP = "\x1f"


def usage_entry(row: UsageRecord) -> str:
    """The key of a usage row among a node's usage on a date: the day (10
    characters), the metric's length, ``:``, the metric, then the labels as JSON.

    No metric or label can make two rows share an entry or break the parse: the
    metric is counted, not delimited. The entry is a str because the changelog holds
    a node's entries as the keys of a JSON object.
    """
    labels = (  # most rows have none: no encoder call for them
        json.dumps(row.labels, sort_keys=True, separators=(",", ":"))
        if row.labels
        else "{}"
    )
    metric = row.metric
    return f"{row.date.isoformat()}{len(metric)}:{metric}{labels}"


def entry_parts(entry: str) -> tuple[str, str, str]:
    """(ISO day, metric, labels JSON) of an entry, in its form of today or the
    one written before issue 16; ValueError for anything else."""
    day, rest = entry[:10], entry[10:]
    if rest[:1] == _LEGACY_SEP:  # day␟metric␟labels; JSON escapes every U+001F
        metric, sep, labels = rest[1:].rpartition(_LEGACY_SEP)
    else:
        count, sep, tail = rest.partition(":")
        if not count.isdigit() or len(tail) < int(count):
            raise ValueError(f"not a usage entry: {entry!r}")
        metric, labels = tail[: int(count)], tail[int(count) :]
    if not sep or len(day) != 10 or labels[:1] != "{":
        raise ValueError(f"not a usage entry: {entry!r}")
    return day, metric, labels


def normal_entry(entry: str) -> str:
    """An entry in today's form (entries of the old form are rewritten)."""
    if entry[10:11] != _LEGACY_SEP:
        return entry
    day, metric, labels = entry_parts(entry)
    return f"{day}{len(metric)}:{metric}{labels}"


@dataclass
class Touched:
    """Nodes whose costs or usage changed on a date since it was last allocated."""

    costs: set[str] = field(default_factory=set)
    usage: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)  # that set them
    # The metrics of the usage set (a parent whose rules use none of them keeps its
    # shares); any_metric: rows of unknown metrics went too (a replaced scope).
    metrics: set[str] = field(default_factory=set)
    any_metric: bool = False

    def add(self, other: Touched) -> None:
        """Fold another change in."""
        self.costs |= other.costs
        self.usage |= other.usage
        self.sources |= other.sources
        self.metrics |= other.metrics
        self.any_metric |= other.any_metric

    @property
    def usage_metrics(self) -> set[str] | None:
        """The metrics whose usage changed (None: any may have)."""
        return None if self.any_metric else self.metrics


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
