"""Announcements of a stored date: node rows encoded by the compute process announce
exactly what the same rows given plain do."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from allocator.announcements import result_messages
from allocator.compute.daydelta import DayDelta, NodeKey, NodeRow
from allocator.offsets import DayOffsets, InputOffset, OriginOffset
from allocator.pgcopy.delta import EncodedDelta
from allocator.pgcopy.nodes import MAX_EVENT_ROWS
from finops.contracts.codec import decode_event
from finops.contracts.events import AllocationComputed, NodeResult
from tests.support.pgcopy_reader import encode_nodes_by_arrays

DAY = date(2025, 3, 10)
RUN = uuid.uuid4()
OFFSETS = DayOffsets(InputOffset(2, 17), OriginOffset("finops.usage.v1", 4, 9))
NODES: dict[NodeKey, NodeRow] = {
    **{(f"n{i}", "compute"): (i, 0, i, 0, i) for i in range(MAX_EVENT_ROWS + 5)},
    ("db", "storage"): (7, 1, 8, 8, 0),
}
REMOVED: list[NodeKey] = [("blog", "ml")]  # a dimension with a key removed only


def _announced(delta: EncodedDelta) -> list[tuple[str, list[NodeResult]]]:
    events: list[AllocationComputed] = []
    for raw in result_messages(
        DAY,
        delta,
        run_id=RUN,
        graph_version=3,
        offsets=OFFSETS.to_marks(),
        now=datetime(2025, 3, 11, tzinfo=UTC),
    ):
        event = decode_event(raw)
        assert isinstance(event, AllocationComputed)
        events.append(event)
    assert {(e.run_id, e.graph_version, e.charge_date) for e in events} == {
        (RUN, 3, DAY)
    }
    assert {tuple(e.input_offsets.items()) for e in events} == {
        (("inputs:2", 17), ("origin:finops.usage.v1/4", 9))
    }
    return sorted((e.dimension, sorted(e.nodes)) for e in events)


def test_encoded_node_rows_announce_what_plain_rows_do() -> None:
    plain = EncodedDelta(DayDelta(NODES, REMOVED, complete=False))
    encoded = EncodedDelta(
        DayDelta({}, REMOVED, complete=False),
        node_copy=encode_nodes_by_arrays(NODES),
    )
    announced = _announced(plain)
    assert announced == _announced(encoded)
    assert sorted((k, len(rows)) for k, rows in announced) == [
        ("compute", 5),
        ("compute", MAX_EVENT_ROWS),
        ("ml", 0),
        ("storage", 1),
    ]
