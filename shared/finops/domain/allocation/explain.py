"""Explaining a node's cost: the chain of flows down to the direct costs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from finops.domain.allocation.engine import AllocationEngine
from finops.domain.allocation.readout import node_result
from finops.domain.money import format_micros
from finops.domain.rules import USAGE_BASED

__all__ = ["Explanation", "Inflow", "explain", "render"]


@dataclass(frozen=True)
class Inflow:
    """One flow into a node: from which parent, by which rule, and how much."""

    parent: str
    strategy: str
    share: float
    metric: str | None
    usage: float | None
    amount: int
    source: Explanation


@dataclass(frozen=True)
class Explanation:
    """How one node's cost on a day in a dimension was built (micro-units)."""

    node: str
    day: date
    dimension: str
    direct: int
    holistic: int
    allocated_out: int
    retained: int
    inflows: list[Inflow] = field(default_factory=list)


def explain(
    engine: AllocationEngine, node: str, day: date, dimension: str, *, depth: int = 8
) -> Explanation:
    """The node's figures and, recursively, every non-zero flow that reached it.

    A parent reached along several paths is explained once and shared.
    """
    return _explain(engine, node, day, dimension, depth, {})


def _explain(
    engine: AllocationEngine,
    node: str,
    day: date,
    dimension: str,
    depth: int,
    seen: dict[str, Explanation],
) -> Explanation:
    if node in seen:
        return seen[node]
    figures = node_result(engine, node, day, dimension)
    inflows: list[Inflow] = []
    explanation = Explanation(
        node,
        day,
        dimension,
        figures.direct,
        figures.holistic,
        figures.allocated_out,
        figures.retained,
        inflows,
    )
    seen[node] = explanation
    if depth > 0:
        inflows.extend(_inflows(engine, node, day, dimension, depth, seen))
    return explanation


def _inflows(
    engine: AllocationEngine,
    node: str,
    day: date,
    dimension: str,
    depth: int,
    seen: dict[str, Explanation],
) -> list[Inflow]:
    t, k = engine.day_index(day), engine.dimension_index(dimension)
    child = engine.graph.index[node]
    found = []
    for parent in engine.graph.parents(node):
        p = engine.graph.index[parent]
        plan = engine.state.plans[p]
        config = int(plan.dim_config[k])
        for row in np.flatnonzero(plan.children == child).tolist():
            amount = int(engine.state.flows[p][row, t, k])
            if amount == 0:
                continue
            rule = plan.config_rules[config][row]
            usage = None
            if rule.strategy in USAGE_BASED:
                values = engine.usage.values(rule, plan.children[row : row + 1])
                usage = float(values[0, t])
            source = _explain(engine, parent, day, dimension, depth - 1, seen)
            share = float(plan.shares[row, t, config])
            strategy = str(rule.strategy)
            found.append(
                Inflow(parent, strategy, share, rule.metric, usage, amount, source)
            )
    return found


def render(
    explanation: Explanation, *, indent: int = 0, shown: set[str] | None = None
) -> list[str]:
    """Text lines of an explanation, one flow per line, indented by depth.

    A node already shown above is not expanded again.
    """
    shown = set() if shown is None else shown
    pad = "  " * indent
    e = explanation
    head = f"{pad}{e.node} {e.day.isoformat()} {e.dimension}"
    if e.node in shown:
        return [f"{head}: holistic {format_micros(e.holistic)} (explained above)"]
    shown.add(e.node)
    received = e.holistic - e.direct
    lines = [
        f"{head}: holistic {format_micros(e.holistic)}"
        f" = direct {format_micros(e.direct)} + received {format_micros(received)};"
        f" passed on {format_micros(e.allocated_out)},"
        f" retained {format_micros(e.retained)}"
    ]
    for flow in e.inflows:
        basis = (
            f", usage {flow.metric}={flow.usage:g}" if flow.usage is not None else ""
        )
        lines.append(
            f"{pad}  <- {format_micros(flow.amount)} from {flow.parent}"
            f" by {flow.strategy} (share {flow.share:.6f}{basis})"
        )
        lines.extend(render(flow.source, indent=indent + 2, shown=shown))
    return lines
