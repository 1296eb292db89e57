"""AllocationComputed events for a stored date (pure): the rows that changed."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from allocator.dayresults import DayDelta
from finops.events import AllocationComputed, FlowResult, NodeResult

__all__ = ["MAX_EVENT_ROWS", "result_events"]

MAX_EVENT_ROWS = 2000  # node rows plus flows per event: well under 1 MiB


def result_events(
    day: date,
    delta: DayDelta,
    *,
    run_id: uuid.UUID,
    graph_version: int,
    offsets: dict[str, int],
    now: datetime,
) -> list[AllocationComputed]:
    """Per dimension, the changed rows; large changes in several events of one run."""
    events = []
    for dimension in delta.dimensions:
        nodes = [
            NodeResult(
                node=n,
                direct=r[0],
                indirect=r[1],
                holistic=r[2],
                allocated_out=r[3],
                retained=r[4],
            )
            for (n, k), r in delta.nodes.items()
            if k == dimension
        ]
        flows = [
            FlowResult.model_validate(
                {"from": f, "to": t, "amount": a, "strategy": s, "share": sh}
            )
            for (f, t, k), (a, s, sh) in delta.flows.items()
            if k == dimension
        ]
        rows: list[NodeResult | FlowResult] = [*nodes, *flows]
        for i in range(0, max(len(rows), 1), MAX_EVENT_ROWS):
            part = rows[i : i + MAX_EVENT_ROWS]
            events.append(
                AllocationComputed(
                    event_id=uuid.uuid4(),
                    occurred_at=now,
                    charge_date=day,
                    dimension=dimension,
                    graph_version=graph_version,
                    run_id=run_id,
                    input_offsets=offsets,
                    nodes=[r for r in part if isinstance(r, NodeResult)],
                    flows=[r for r in part if isinstance(r, FlowResult)],
                )
            )
    return events
