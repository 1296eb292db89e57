"""AllocationComputed events for a stored date (pure): the rows that changed."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from allocator.dayresults import DayDelta
from finops.events import AllocationComputed, NodeResult

__all__ = ["MAX_EVENT_ROWS", "result_events"]

MAX_EVENT_ROWS = 2000  # node rows per event: well under 1 MiB


def result_events(
    day: date,
    delta: DayDelta,
    *,
    run_id: uuid.UUID,
    graph_version: int,
    offsets: dict[str, int],
    now: datetime,
) -> list[AllocationComputed]:
    """Per dimension, the node rows that changed; large changes in several events.

    Flows are not carried (a busy date changes tens of thousands per second): they
    are read from PostgreSQL, where the run and offsets of the event find them.
    """
    events = []
    by_dimension: dict[str, list[NodeResult]] = {k: [] for k in delta.dimensions}
    for (node, dimension), row in delta.nodes.items():
        by_dimension[dimension].append(NodeResult(node, *row))
    for dimension, nodes in by_dimension.items():
        for i in range(0, max(len(nodes), 1), MAX_EVENT_ROWS):
            events.append(  # trusted rows of our own: not validated again
                AllocationComputed.model_construct(
                    event_id=uuid.uuid4(),
                    occurred_at=now,
                    charge_date=day,
                    dimension=dimension,
                    graph_version=graph_version,
                    run_id=run_id,
                    input_offsets=offsets,
                    nodes=nodes[i : i + MAX_EVENT_ROWS],
                )
            )
    return events
