"""One charge date allocated by the engine of `finops allocate`; what changed (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from allocator.daystate import DayInputs
from finops.allocation.engine import AllocationEngine
from finops.allocation.results import flow_columns, node_arrays
from finops.dag import CostGraph
from finops.periods import DayRange

__all__ = ["DayDelta", "DayResult", "allocate_day", "diff_days"]

NodeKey = tuple[str, str]  # node, dimension
FlowKey = tuple[str, str, str]  # from, to, dimension
NodeRow = tuple[int, int, int, int, int]  # direct, indirect, holistic, out, retained
FlowRow = tuple[int, str, float]  # amount, strategy, share


@dataclass(frozen=True)
class DayResult:
    """Non-zero node figures and flows of one date, in micro-units."""

    day: date
    nodes: dict[NodeKey, NodeRow] = field(default_factory=dict)
    flows: dict[FlowKey, FlowRow] = field(default_factory=dict)


@dataclass(frozen=True)
class DayDelta:
    """Rows to write and keys to delete so the stored date equals a new result."""

    nodes: dict[NodeKey, NodeRow]
    flows: dict[FlowKey, FlowRow]
    nodes_removed: list[NodeKey]
    flows_removed: list[FlowKey]
    complete: bool  # True: the date's stored rows are all replaced

    @property
    def is_empty(self) -> bool:
        """True when nothing stored changes."""
        changes = self.nodes or self.flows or self.nodes_removed or self.flows_removed
        return not (self.complete or changes)

    @property
    def dimensions(self) -> list[str]:
        """Dimensions with any row written or removed."""
        dims = {k[1] for k in self.nodes} | {k[1] for k in self.nodes_removed}
        dims |= {k[2] for k in self.flows} | {k[2] for k in self.flows_removed}
        return sorted(dims)


def allocate_day(
    graph: CostGraph, day: date, inputs: DayInputs
) -> tuple[DayResult, int]:
    """Allocate one date; rows naming nodes the graph lacks are left out and counted."""
    costs, skipped_costs = inputs.cost_table(day, graph.index)
    usage, skipped_usage = inputs.usage_table(graph.index)
    if costs.micros.size == 0:
        return DayResult(day), skipped_costs + skipped_usage
    engine = AllocationEngine(graph, costs, usage, days=DayRange(first=day, last=day))
    result = DayResult(day, _node_rows(engine), _flow_rows(engine))
    return result, skipped_costs + skipped_usage


def _node_rows(engine: AllocationEngine) -> dict[NodeKey, NodeRow]:
    arrays = node_arrays(engine)
    figures = (
        arrays.direct,
        arrays.indirect,
        arrays.holistic,
        arrays.allocated_out,
        arrays.retained,
    )
    nonzero = (figures[0] != 0) | (figures[1] != 0) | (figures[3] != 0)
    nodes, _, dims = nonzero.nonzero()
    columns = [f[nodes, 0, dims].tolist() for f in figures]
    ids, names = engine.graph.ids, engine.dimensions
    keys = [
        (ids[n], names[k]) for n, k in zip(nodes.tolist(), dims.tolist(), strict=True)
    ]
    return dict(zip(keys, zip(*columns, strict=True), strict=True))  # type: ignore[arg-type]


def _flow_rows(engine: AllocationEngine) -> dict[FlowKey, FlowRow]:
    flows = flow_columns(engine)
    ids, names = engine.graph.ids, engine.dimensions
    return {
        (ids[p], ids[c], names[k]): (a, s, sh)
        for p, c, k, a, s, sh in zip(
            flows.parent.tolist(),
            flows.child.tolist(),
            flows.dimension.tolist(),
            flows.amount.tolist(),
            flows.strategy,
            flows.share.tolist(),
            strict=True,
        )
    }


def diff_days(old: DayResult | None, new: DayResult) -> DayDelta:
    """What to write: everything when the stored state is unknown, else the changes."""
    if old is None:
        return DayDelta(new.nodes, new.flows, [], [], complete=True)
    return DayDelta(
        nodes={k: v for k, v in new.nodes.items() if old.nodes.get(k) != v},
        flows={k: v for k, v in new.flows.items() if old.flows.get(k) != v},
        nodes_removed=[k for k in old.nodes if k not in new.nodes],
        flows_removed=[k for k in old.flows if k not in new.flows],
        complete=False,
    )
