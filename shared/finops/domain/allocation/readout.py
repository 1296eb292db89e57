"""Reading an engine's results: summary, node figures and flows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray

from finops.domain.allocation.engine import AllocationEngine
from finops.domain.allocation.plans import ParentPlan
from finops.domain.costgraph import NodeType
from finops.domain.money import format_micros
from finops.domain.rules import StrategyName

__all__ = [
    "STRATEGY_NAMES",
    "Flow",
    "FlowColumns",
    "NodeArrays",
    "NodeResult",
    "Summary",
    "flow_columns",
    "flows_from",
    "iter_flow_columns",
    "node_arrays",
    "node_result",
    "strategy_codes",
    "strategy_names",
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


STRATEGY_NAMES: list[str] = [s.value for s in StrategyName]
_STRATEGY_CODE = {s: i for i, s in enumerate(StrategyName)}


def strategy_codes(plan: ParentPlan) -> NDArray[np.int64]:
    """(configs, k): the code (index in STRATEGY_NAMES) of each edge's strategy."""
    return np.array(
        [[_STRATEGY_CODE[r.strategy] for r in rules] for rules in plan.config_rules],
        dtype=np.int64,
    )


def strategy_names(codes: NDArray[np.int64]) -> list[str]:
    """Strategy names of strategy codes."""
    return [STRATEGY_NAMES[c] for c in codes.tolist()]


@dataclass(frozen=True)
class FlowColumns:
    """Flows as columns: parent, child, day, dim indices, amount, share, strategy."""

    parent: NDArray[np.int64]
    child: NDArray[np.int64]
    day: NDArray[np.int64]
    dimension: NDArray[np.int64]
    amount: NDArray[np.int64]
    share: NDArray[np.float64]
    strategy_code: NDArray[np.int64]

    @property
    def strategy(self) -> list[str]:
        """Strategy name of each flow (codes index STRATEGY_NAMES)."""
        return strategy_names(self.strategy_code)

    def __len__(self) -> int:
        return int(self.parent.size)


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
    return _concat(list(iter_flow_columns(engine)))


def iter_flow_columns(
    engine: AllocationEngine, *, chunk_rows: int = 1 << 20
) -> Iterator[FlowColumns]:
    """flow_columns in chunks of about chunk_rows flows, to bound memory."""
    buffer: list[FlowColumns] = []
    size = 0
    for parent in sorted(engine.state.flows):
        part = _parent_flows(engine, parent)
        buffer.append(part)
        size += len(part)
        if size >= chunk_rows:
            yield _concat(buffer)
            buffer, size = [], 0
    if buffer:
        yield _concat(buffer)


def _parent_flows(engine: AllocationEngine, parent: int) -> FlowColumns:
    plan = engine.state.plans[parent]
    flows = engine.state.flows[parent]
    shares = plan.shares[:, :, plan.dim_config]
    rows, days, dims = np.nonzero((flows != 0) | (shares > 0))
    codes = strategy_codes(plan)
    return FlowColumns(
        parent=np.full(rows.size, parent, dtype=np.int64),
        child=plan.children[rows],
        day=days,
        dimension=dims,
        amount=flows[rows, days, dims],
        share=shares[rows, days, dims],
        strategy_code=codes[plan.dim_config[dims], rows],
    )


def _concat(parts: list[FlowColumns]) -> FlowColumns:
    if not parts:
        none = np.zeros(0, dtype=np.int64)
        return FlowColumns(none, none, none, none, none, np.zeros(0), none)
    fields = FlowColumns.__dataclass_fields__
    return FlowColumns(
        **{k: np.concatenate([getattr(p, k) for p in parts]) for k in fields}
    )


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
