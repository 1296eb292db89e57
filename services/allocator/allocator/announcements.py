"""AllocationComputed events for a stored date (pure): the rows that changed."""

from __future__ import annotations

import functools
import uuid
from datetime import date, datetime

from allocator.pgcopy.delta import EncodedDelta
from allocator.pgcopy.nodes import MAX_EVENT_ROWS
from finops.contracts.codec import encode_event, encode_with_node_rows
from finops.contracts.events import AllocationComputed, NodeResult

__all__ = ["MAX_EVENT_ROWS", "result_messages"]


def result_messages(
    day: date,
    delta: EncodedDelta,
    *,
    run_id: uuid.UUID,
    graph_version: int,
    offsets: dict[str, int],
    now: datetime,
) -> list[bytes]:
    """Per dimension, the node rows that changed, as encoded AllocationComputed
    events; large changes in several events.

    Flows are not carried (a busy date changes tens of thousands per second): they
    are read from PostgreSQL, where the run and offsets of the event find them.
    """

    event = functools.partial(
        _event,
        day=day,
        run_id=run_id,
        graph_version=graph_version,
        offsets=offsets,
        now=now,
    )
    encoded = delta.node_copy
    if encoded is not None:  # rows encoded by the compute process
        return [
            encode_with_node_rows(event(dimension, []), rows)
            for dimension in delta.dimensions
            for rows in encoded.events.get(dimension) or [b"[]"]
        ]
    return [encode_event(event(dimension, rows)) for dimension, rows in _chunks(delta)]


def _event(
    dimension: str,
    nodes: list[NodeResult],
    *,
    day: date,
    run_id: uuid.UUID,
    graph_version: int,
    offsets: dict[str, int],
    now: datetime,
) -> AllocationComputed:
    return AllocationComputed.model_construct(  # trusted rows: not validated again
        event_id=uuid.uuid4(),
        occurred_at=now,
        charge_date=day,
        dimension=dimension,
        graph_version=graph_version,
        run_id=run_id,
        input_offsets=offsets,
        nodes=nodes,
        flows=[],  # given: model_construct inspects a default_factory on each call
    )


def _chunks(delta: EncodedDelta) -> list[tuple[str, list[NodeResult]]]:
    """The plain node rows per dimension, at most MAX_EVENT_ROWS a chunk (a
    dimension with only keys removed or flows: one empty chunk)."""
    by_dimension: dict[str, list[NodeResult]] = {k: [] for k in delta.dimensions}
    for (node, dimension), row in delta.plain.nodes.items():
        by_dimension[dimension].append(NodeResult(node, *row))
    return [
        (dimension, rows[i : i + MAX_EVENT_ROWS])
        for dimension, rows in by_dimension.items()
        for i in range(0, max(len(rows), 1), MAX_EVENT_ROWS)
    ]
