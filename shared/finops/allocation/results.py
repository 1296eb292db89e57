"""Reading an engine's results: summary, node figures and flows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray

from finops.allocation.engine import AllocationEngine
from finops.dag import NodeType
from finops.money import format_micros

__all__ = [
    "Flow",
    "FlowColumns",
    "NodeArrays",
    "NodeResult",
    "Summary",
    "flow_columns",
    "flows_from",
    "node_arrays",
    "node_result",
    "summarize",
]


@dataclass(frozen=True)
class Summary:
    """Totals over every node, day and dimension, in micro-units."""

    raw_total: int
    allocated_to_products: int
    unallocated: int

    @property
    def coverage(self) -> float:
        """allocated_to_products / raw_total (0 when nothing was spent)."""
        return self.allocated_to_products / self.raw_total if self.raw_total else 0.0

    def to_json(self) -> dict[str, Any]:
        """Amounts as decimal strings with six decimals, coverage as a number."""
        return {
            "raw_total": format_micros(self.raw_total),
            "allocated_to_products": format_micros(self.allocated_to_products),
            "unallocated": format_micros(self.unallocated),
            "coverage": self.coverage,
        }


@dataclass(frozen=True)
class NodeResult:
    """One node on one day in one dimension, in micro-units."""

    direct: int
    indirect: int
    holistic: int
    allocated_out: int
    retained: int


@dataclass(frozen=True)
class NodeArrays:
    """Every figure as a (nodes, days, dims) array of micro-units."""

    direct: NDArray[np.int64]
    indirect: NDArray[np.int64]
    holistic: NDArray[np.int64]
    allocated_out: NDArray[np.int64]
    retained: NDArray[np.int64]


@dataclass(frozen=True)
class FlowColumns:
    """Non-zero flows as columns: parent, child, day, dim indices, amount, share."""

    parent: NDArray[np.int64]
    child: NDArray[np.int64]
    day: NDArray[np.int64]
    dimension: NDArray[np.int64]
    amount: NDArray[np.int64]
    share: NDArray[np.float64]
    strategy: list[str]


def _allocated_out(engine: AllocationEngine) -> NDArray[np.int64]:
    out = np.zeros_like(engine.state.direct)
    for parent, flows in engine.state.flows.items():
        out[parent] = flows.sum(axis=0)
    return out


def node_arrays(engine: AllocationEngine) -> NodeArrays:
    """All node figures at once."""
    state = engine.state
    holistic = state.direct + state.received
    out = _allocated_out(engine)
    return NodeArrays(state.direct, state.received, holistic, out, holistic - out)


def summarize(engine: AllocationEngine) -> Summary:
    """raw_total, allocated_to_products and unallocated over the whole range."""
    state = engine.state
    products = [
        engine.graph.index[n.id]
        for n in engine.graph.spec.nodes
        if n.type is NodeType.PRODUCT
    ]
    raw = int(state.direct.sum())
    kept = int(state.direct[products].sum() + state.received[products].sum())
    for p in products:
        if p in state.flows:
            kept -= int(state.flows[p].sum())
    return Summary(raw, kept, raw - kept)


def node_result(
    engine: AllocationEngine, node: str, day: date, dimension: str
) -> NodeResult:
    """Figures of one node, day and dimension."""
    n, t, k = (
        engine.node_index(node),
        engine.day_index(day),
        engine.dimension_index(dimension),
    )
    state = engine.state
    direct, indirect = int(state.direct[n, t, k]), int(state.received[n, t, k])
    flows = state.flows.get(n)
    out = int(flows[:, t, k].sum()) if flows is not None else 0
    holistic = direct + indirect
    return NodeResult(direct, indirect, holistic, out, holistic - out)


def flow_columns(engine: AllocationEngine) -> FlowColumns:
    """Every flow with a non-zero amount or share, ordered by parent and child."""
    parts: dict[str, list[Any]] = {key: [] for key in FlowColumns.__dataclass_fields__}
    for parent in sorted(engine.state.flows):
        plan = engine.state.plans[parent]
        flows = engine.state.flows[parent]
        shares = plan.shares[:, :, plan.dim_config]
        rows, days, dims = np.nonzero((flows != 0) | (shares > 0))
        parts["parent"].append(np.full(rows.size, parent))
        parts["child"].append(plan.children[rows])
        parts["day"].append(days)
        parts["dimension"].append(dims)
        parts["amount"].append(flows[rows, days, dims])
        parts["share"].append(shares[rows, days, dims])
        names = [[str(r.strategy) for r in rules] for rules in plan.config_rules]
        configs = plan.dim_config[dims]
        parts["strategy"].extend(
            names[c][r] for r, c in zip(rows, configs, strict=True)
        )
    arrays = {
        k: np.concatenate(v) if v and k != "strategy" else v for k, v in parts.items()
    }
    for key in ("parent", "child", "day", "dimension", "amount"):
        if not parts[key]:
            arrays[key] = np.zeros(0, dtype=np.int64)
    if not parts["share"]:
        arrays["share"] = np.zeros(0)
    return FlowColumns(**arrays)


@dataclass(frozen=True)
class Flow:
    """What one edge carried on one day in one dimension."""

    child: str
    amount: int
    strategy: str
    share: float


def flows_from(
    engine: AllocationEngine, parent: str, day: date, dimension: str
) -> list[Flow]:
    """Every out-edge flow of a parent on a day in a dimension, by child id."""
    p = engine.node_index(parent)
    t, k = engine.day_index(day), engine.dimension_index(dimension)
    plan = engine.state.plans.get(p)
    if plan is None:
        return []
    config = int(plan.dim_config[k])
    return [
        Flow(
            engine.graph.ids[int(child)],
            int(engine.state.flows[p][row, t, k]),
            str(plan.config_rules[config][row].strategy),
            float(plan.shares[row, t, config]),
        )
        for row, child in enumerate(plan.children)
    ]
