"""Builders for allocation tests: small graphs, cost and usage records, engines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from finops.domain.allocation.engine import AllocationEngine
from finops.domain.dag import GraphSpec
from finops.domain.periods import DayRange
from finops.domain.records import NodeCost, UsageRecord

__all__ = ["DAY", "edge", "make_engine", "make_spec", "node", "usage"]

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
