"""The allocator's input state: bucketed table keys, rebuilt exactly after a restart."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from allocator.daystate import BUCKETS, SEP, InputState
from allocator.routing import route_batch
from finops.events import DateScope, NodeCostsReported, UsageReported
from finops.records import NodeCost, UsageRecord

DAY = date(2025, 3, 10)
NOW = datetime(2025, 3, 11, tzinfo=UTC)


def _costs(nodes: range, amount: int, *, replace: bool = False) -> NodeCostsReported:
    return NodeCostsReported(
        event_id=uuid.uuid4(),
        occurred_at=NOW,
        source="bill",
        costs=[
            NodeCost(node=f"n{i}", date=DAY, dimension="compute", amount_micros=amount)
            for i in nodes
        ],
        replaces=DateScope(first=DAY, last=DAY) if replace else None,
    )


def _usage(nodes: range, value: float) -> UsageReported:
    return UsageReported(
        event_id=uuid.uuid4(),
        occurred_at=NOW,
        source="metrics",
        usage=[
            UsageRecord(node=f"n{i}", date=DAY, metric="requests", value=value)
            for i in nodes
        ],
    )


def _apply(state: InputState, *events: object) -> None:
    for i, piece in enumerate(
        route_batch([(e, "t/0/0") for e in events], window_days=3)
    ):  # type: ignore[misc]
        state.apply(piece, f"0/{i}")


def test_many_nodes_share_few_keys_and_a_restart_rebuilds_the_same_state() -> None:
    costs, usage, applied = {}, {}, {}  # type: ignore[var-annotated]
    state = InputState(costs, usage, applied)
    _apply(state, _costs(range(500), 7), _usage(range(300), 2.0))
    _apply(state, _costs(range(100, 200), 9), _costs(range(50), 1, replace=True))
    assert len(costs) <= BUCKETS and len(usage) <= 3 * BUCKETS  # 3 dates of usage
    rebuilt = InputState(costs, usage, applied)
    rebuilt.rebuild(lambda d: True)
    assert rebuilt.days == state.days
    assert set(state.days[DAY].costs) == {("bill", f"n{i}") for i in range(50)}


def test_keys_of_older_versions_are_read_and_replaced_when_their_node_changes() -> None:
    old_key = f"{DAY.isoformat()}{SEP}bill{SEP}n1"
    costs = {old_key: {"compute": 5}}
    state = InputState(costs, {}, {})
    state.rebuild(lambda d: True)
    assert state.days[DAY].costs[("bill", "n1")] == {"compute": 5}
    _apply(state, _costs(range(1, 2), 8))
    assert old_key not in costs
    again = InputState(costs, {}, {})
    again.rebuild(lambda d: True)
    assert again.days[DAY].costs[("bill", "n1")] == {"compute": 8}
