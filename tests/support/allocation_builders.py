"""Builders for allocation tests: small graphs, cost and usage records, engines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

import numpy as np

from finops.domain.allocation.engine import AllocationEngine
from finops.domain.allocation.tables import UsageTable, to_day_numbers
from finops.domain.allocation.usage import UsagePatch
from finops.domain.dag import GraphSpec
from finops.domain.periods import DayRange
from finops.domain.records import NodeCost, UsageRecord

__all__ = [
    "DAY",
    "edge",
    "make_engine",
    "make_spec",
    "node",
    "usage",
    "usage_patch",
]

DAY = date(2025, 3, 1)


def node(node_id: str, node_type: str = "product", **labels: str) -> dict[str, Any]:
    """A node as written in a graph file."""
    return {"id": node_id, "type": node_type, "labels": labels}


def edge(src: str, dst: str, strategy: str = "equal", **params: Any) -> dict[str, Any]:
    """An edge as written in a graph file; `params` are the strategy's params."""
    extra: dict[str, Any] = {
        k: params.pop(k)
        for k in ("dimensions", "active_from", "active_to")
        if k in params
    }
    return {"from": src, "to": dst, "strategy": strategy, "params": params, **extra}


def make_spec(
    nodes: Iterable[dict[str, Any]], edges: Iterable[dict[str, Any]]
) -> GraphSpec:
    """A graph spec from node and edge dicts."""
    return GraphSpec.model_validate({"nodes": list(nodes), "edges": list(edges)})


def usage(
    node_id: str, value: float, metric: str = "req", day: date = DAY, **labels: Any
) -> UsageRecord:
    """One usage row."""
    return UsageRecord(
        node=node_id, date=day, metric=metric, value=value, labels=labels
    )


def make_engine(
    spec: GraphSpec,
    costs: Mapping[str, int] | Iterable[NodeCost],
    usage_rows: Iterable[UsageRecord] = (),
    *,
    days: int = 1,
    dimensions: list[str] | None = None,
) -> AllocationEngine:
    """An engine over `days` days from DAY; costs {node: micros} are on DAY, compute."""
    if isinstance(costs, Mapping):
        costs = [
            NodeCost(node=n, date=DAY, dimension="compute", amount_micros=m)
            for n, m in costs.items()
        ]
    rng = DayRange(first=DAY, last=DAY + timedelta(days=days - 1))
    return AllocationEngine.from_records(
        spec, costs, usage_rows, days=rng, dimensions=dimensions or ["compute"]
    )


def usage_patch(
    engine: AllocationEngine,
    old: Iterable[UsageRecord],
    new: Mapping[str, list[UsageRecord]],
) -> UsagePatch:
    """A patch giving `new`'s nodes exactly their rows there, for an engine whose
    usage is `old`; its cells found by comparing the rows before and after as
    multisets, per (node, day, metric)."""

    def rows(records: Iterable[UsageRecord]) -> Counter[tuple[Any, ...]]:
        return Counter(
            (r.node, r.date, r.metric, r.value, tuple(sorted(r.labels.items())))
            for r in records
        )

    before = rows(u for u in old if u.node in new)
    after = rows(u for records in new.values() for u in records)
    index = engine.graph.index
    cells = frozenset(
        (index[c[0]], int(to_day_numbers([c[1]])[0]), c[2])
        for c in (before - after) + (after - before)
    )
    table = UsageTable.from_records(u for records in new.values() for u in records)
    codes = np.array([index[n] for n in table.node_ids], dtype=np.int64)
    graph_rows = UsageTable(
        node=codes[table.node] if table.node.size else table.node,
        day=table.day,
        metric=table.metric,
        value=table.value,
        label=table.label,
        node_ids=engine.graph.ids,
        metrics=table.metrics,
        label_sets=table.label_sets,
    )
    nodes = np.array(sorted(index[n] for n in new), dtype=np.int64)
    return UsagePatch(nodes, graph_rows, cells)
