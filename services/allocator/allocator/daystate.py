"""The allocator's inputs per charge date, mirrored into durable (Faust) tables."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from finops.events import DayInputsRouted
from finops.records import NodeCost, UsageRecord

__all__ = ["DayInputs", "InputState", "table_key"]

SEP = "\x1f"  # never part of a node id, source or metric we accept
Table = MutableMapping[str, Any]


def table_key(day: date, source: str, node: str) -> str:
    """The key of one source's figures for one node on one charge date."""
    return f"{day.isoformat()}{SEP}{source}{SEP}{node}"


def _split_key(key: str) -> tuple[date, str, str]:
    day, source, node = key.split(SEP)
    return date.fromisoformat(day), source, node


def _usage_entry(row: UsageRecord) -> str:
    labels = json.dumps(row.labels, sort_keys=True, separators=(",", ":"))
    return f"{row.date.isoformat()}{SEP}{row.metric}{SEP}{labels}"


@dataclass
class DayInputs:
    """Costs {(source, node): {dimension: micros}}; usage {(source, node): {row: v}}."""

    costs: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    usage: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)

    def node_costs(self, day: date) -> list[NodeCost]:
        """Direct costs summed over sources, per node and dimension."""
        totals: dict[tuple[str, str], int] = defaultdict(int)
        for (_, node), amounts in self.costs.items():
            for dimension, micros in amounts.items():
                totals[(node, dimension)] += micros
        return [
            NodeCost(node=n, date=day, dimension=k, amount_micros=v)
            for (n, k), v in totals.items()
        ]

    def usage_rows(self) -> list[UsageRecord]:
        """Every usage row that reaches this date (its own day or a window before)."""
        rows = []
        for (_, node), entries in self.usage.items():
            for entry, value in entries.items():
                day, metric, labels = entry.split(SEP)
                rows.append(
                    UsageRecord(
                        node=node,
                        date=date.fromisoformat(day),
                        metric=metric,
                        value=value,
                        labels=json.loads(labels),
                    )
                )
        return rows


class InputState:
    """Per-date inputs in memory, every change written through to the tables."""

    def __init__(self, costs: Table, usage: Table, applied: Table) -> None:
        self._costs, self._usage, self._applied = costs, usage, applied
        self.days: dict[date, DayInputs] = {}

    def apply(self, piece: DayInputsRouted, position: str) -> None:
        """Fold one routed piece in; replaying a piece leaves the state unchanged."""
        day = self.days.setdefault(piece.charge_date, DayInputs())
        self._apply_costs(day, piece)
        self._apply_usage(day, piece)
        self._applied[piece.charge_date.isoformat()] = {
            "inputs": position,
            "origin": piece.origin,
        }

    def position(self, day: date) -> dict[str, str]:
        """Where the last input applied to this date came from."""
        return dict(self._applied.get(day.isoformat()) or {})

    def _apply_costs(self, day: DayInputs, piece: DayInputsRouted) -> None:
        new: dict[str, dict[str, int]] = defaultdict(dict)
        for cost in piece.costs:
            amounts = new[cost.node]
            amounts[cost.dimension] = (
                amounts.get(cost.dimension, 0) + cost.amount_micros
            )
        if piece.costs_replace:
            for _, node in [k for k in day.costs if k[0] == piece.source]:
                if node not in new:
                    self._set(self._costs, day.costs, piece, node, None)
        for node, amounts in new.items():
            old = {} if piece.costs_replace else day.costs.get((piece.source, node), {})
            self._set(self._costs, day.costs, piece, node, {**old, **amounts})

    def _apply_usage(self, day: DayInputs, piece: DayInputsRouted) -> None:
        new: dict[str, dict[str, float]] = defaultdict(dict)
        for row in piece.usage:
            entries, entry = new[row.node], _usage_entry(row)
            entries[entry] = entries.get(entry, 0.0) + row.value
        scope = piece.usage_replaces
        touched = set(new)
        if scope is not None:
            touched |= {n for s, n in day.usage if s == piece.source}
        for node in touched:
            kept = dict(day.usage.get((piece.source, node), {}))
            if scope is not None:
                first, last = scope.first.isoformat(), scope.last.isoformat()
                kept = {e: v for e, v in kept.items() if not first <= e[:10] <= last}
            kept.update(new.get(node, {}))
            self._set(self._usage, day.usage, piece, node, kept or None)

    @staticmethod
    def _set(
        table: Table,
        index: dict[tuple[str, str], Any],
        piece: DayInputsRouted,
        node: str,
        value: dict[str, Any] | None,
    ) -> None:
        key = table_key(piece.charge_date, piece.source, node)
        if value is None:
            index.pop((piece.source, node), None)
            if key in table:
                del table[key]
        else:
            index[(piece.source, node)] = value
            table[key] = value

    def rebuild(self, owns: Callable[[date], bool]) -> None:
        """Rebuild the in-memory index from the tables, keeping the dates we own."""
        self.days = {}
        for table, attr in ((self._costs, "costs"), (self._usage, "usage")):
            for key, value in list(table.items()):
                day, source, node = _split_key(key)
                if value and owns(day):
                    inputs = self.days.setdefault(day, DayInputs())
                    getattr(inputs, attr)[(source, node)] = value

    def forget(self, owns: Callable[[date], bool]) -> None:
        """Drop the dates we no longer own (after a rebalance)."""
        self.days = {d: v for d, v in self.days.items() if owns(d)}
