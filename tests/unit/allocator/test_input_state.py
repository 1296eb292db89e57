"""The allocator's input state: bucketed table keys, rebuilt exactly after a restart."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from allocator.inputs.days import entry_parts
from allocator.inputs.keys import (
    BUCKETS,
    KeyKind,
    decode_bucket,
    encode_bucket,
    parse_key,
)
from allocator.inputs.state import DELTA_MAX_BYTES, DELTAS, InputState
from allocator.offsets import InputOffset
from allocator.routing.pieces import Reach, route_batch
from finops.contracts.events import (
    DateScope,
    DayInputsRouted,
    NodeCostsReported,
    UsageReported,
)
from finops.domain.records import NodeCost, UsageRecord

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


def _apply(state: InputState, *events: NodeCostsReported | UsageReported) -> None:
    pieces = route_batch([(e, "t/0/0") for e in events], reach=Reach.every(3))
    for i, piece in enumerate(pieces):
        state.apply(piece, InputOffset(0, i))


def test_many_nodes_share_few_keys_and_a_restart_rebuilds_the_same_state() -> None:
    costs: dict[str, object] = {}
    usage: dict[str, object] = {}
    applied: dict[str, object] = {}
    state = InputState(costs, usage, applied)
    _apply(state, _costs(range(500), 7), _usage(range(300), 2.0))
    _apply(state, _costs(range(100, 200), 9), _costs(range(50), 1, replace=True))
    assert len(costs) <= BUCKETS and len(usage) <= 3 * BUCKETS  # 3 dates of usage
    rebuilt = InputState(costs, usage, applied)
    rebuilt.rebuild(lambda d: True)
    assert rebuilt.days == state.days
    assert set(state.days[DAY].costs) == {("bill", f"n{i}") for i in range(50)}


class _Recording(dict[str, object]):
    """A table that logs every write, to replay any prefix of its changelog."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, object]] = []

    def __setitem__(self, key: str, value: object) -> None:
        self.log.append((key, value))
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.log.append((key, None))
        super().__delitem__(key)


def _replayed(
    log: list[tuple[str, object]], base: dict[str, object] | None = None
) -> dict[str, object]:
    table: dict[str, object] = dict(base or {})
    for key, value in log:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    return table


def _pieces(count: int) -> list[DayInputsRouted]:
    events: list[NodeCostsReported | UsageReported] = []
    for i in range(count):
        nodes = range(i * 7 % 90, i * 7 % 90 + 40)
        events.append(_costs(nodes, i + 1, replace=i % 5 == 4))
        events.append(_usage(nodes, float(i)))
    # One batch per event: a batch merges the pieces of one date and source.
    return [p for e in events for p in route_batch([(e, "t/0/0")], reach=Reach(1))]


def test_pieces_are_deltas_until_their_buckets_are_written_again() -> None:
    costs, usage = _Recording(), _Recording()
    state = InputState(costs, usage, {})
    for i, piece in enumerate(_pieces(DELTAS + 3)):
        state.apply(piece, InputOffset(0, i))
    deltas = [k for k in costs if parse_key(k).kind is KeyKind.DELTA]
    assert len(deltas) == 3 and len(costs) - 3 <= BUCKETS
    # One message per piece and table, plus one per bucket every DELTAS pieces,
    # instead of every bucket a piece touched.
    assert len(costs.log) <= (DELTAS + 3) + BUCKETS + DELTAS
    rebuilt = InputState(costs, usage, {})
    rebuilt.rebuild(lambda d: True)
    assert rebuilt.days == state.days


def test_a_crash_anywhere_in_a_bucket_rewrite_rebuilds_the_same_state() -> None:
    costs, usage = _Recording(), _Recording()
    state = InputState(costs, usage, {})
    after: list[tuple[int, int, dict[str, object]]] = []
    pieces = _pieces(2 * DELTAS + 5)
    for i, piece in enumerate(pieces):
        state.apply(piece, InputOffset(0, i))
        day = state.days[DAY]
        snapshot = {"costs": dict(day.costs), "usage": dict(day.usage)}
        after.append((len(costs.log), len(usage.log), snapshot))
    # Every prefix of the costs changelog that ends inside or after a piece's
    # writes to it, with the usage changelog as it was after that piece.
    start = 0
    for end_costs, end_usage, snapshot in after:
        for cut in range(start + 1, end_costs + 1):
            crashed = InputState(
                _replayed(costs.log[:cut]), _replayed(usage.log[:end_usage]), {}
            )
            crashed.rebuild(lambda d: True)
            assert crashed.days[DAY].costs == snapshot["costs"], cut
        start = end_costs


def test_writes_after_a_restart_keep_what_the_recovered_deltas_said() -> None:
    costs, usage = _Recording(), _Recording()
    crashed, reference = InputState(costs, usage, {}), InputState({}, {}, {})
    # Before the restart one set of nodes, after it others: the buckets the
    # recovered deltas changed are written although no later piece touches them.
    before = [_costs(range(i, 40 + i), i + 1) for i in range(7)]
    after = [_costs(range(1000 + i, 1040 + i), i + 1) for i in range(DELTAS)]
    pieces = [
        p for e in before + after for p in route_batch([(e, "t/0/0")], reach=Reach(1))
    ]
    for i, piece in enumerate(pieces[:7]):
        crashed.apply(piece, InputOffset(0, i))
        reference.apply(piece, InputOffset(0, i))
    restarted = InputState(costs, usage, {})
    restarted.rebuild(lambda d: True)
    for i, piece in enumerate(pieces[7:], start=7):
        reference.apply(piece, InputOffset(0, i))
        restarted.apply(piece, InputOffset(0, i))
    assert restarted.days == reference.days
    again = InputState(costs, usage, {})
    again.rebuild(lambda d: True)
    assert again.days == reference.days


def test_a_piece_too_large_for_one_delta_writes_its_buckets() -> None:
    costs, usage = _Recording(), _Recording()
    state = InputState(costs, usage, {})
    _apply(state, _costs(range(100), 5))  # a small piece: one delta
    _apply(state, _costs(range(40_000), 7))  # a whole date of figures
    assert not [k for k in costs if parse_key(k).kind is KeyKind.DELTA]  # went too
    longest = max(len(v) for _, v in costs.log if isinstance(v, bytes))
    assert longest <= DELTA_MAX_BYTES
    rebuilt = InputState(costs, usage, {})
    rebuilt.rebuild(lambda d: True)
    assert rebuilt.days == state.days


def _legacy(table: dict[str, object]) -> _Recording:
    """A table as written before issue 16: keys and usage entries joined by U+001F."""
    old = _Recording()
    for raw, value in table.items():
        key = parse_key(raw)
        mark = "#" if key.kind is KeyKind.BUCKET else "~"
        number = f"{key.number:010d}" if mark == "~" else str(key.number)
        nodes = decode_bucket(value)  # type: ignore[arg-type]
        old[f"{key.day.isoformat()}\x1f{key.source}\x1f{mark}{number}"] = encode_bucket(
            {n: _legacy_entries(f) for n, f in nodes.items()}
        )
    old.log.clear()
    return old


def _legacy_entries(figures: dict[str, object] | None) -> dict[str, object] | None:
    if figures is None:
        return None
    legacy = {}
    for entry, value in figures.items():
        if entry[10:11].isdigit():  # a usage entry: day, counted metric, labels
            day, metric, labels = entry_parts(entry)
            entry = f"{day}\x1f{metric}\x1f{labels}"
        legacy[entry] = value
    return legacy


def test_a_changelog_of_the_legacy_form_rebuilds_the_same_state() -> None:
    costs, usage = _Recording(), _Recording()
    state = InputState(costs, usage, {})
    for i, piece in enumerate(_pieces(DELTAS + 5)):  # buckets and deltas
        state.apply(piece, InputOffset(0, i))
    old_costs, old_usage = _legacy(costs), _legacy(usage)
    assert any("~" in k for k in old_costs) and any("#" in k for k in old_usage)
    rebuilt = InputState(old_costs, old_usage, {})
    rebuilt.rebuild(lambda d: True)
    assert rebuilt.days == state.days
    assert not old_costs.log and not old_usage.log  # reading writes nothing


def test_the_first_piece_after_a_restart_rewrites_the_legacy_keys() -> None:
    reference = InputState(_Recording(), _Recording(), {})
    pieces = _pieces(DELTAS + 8)
    for i, piece in enumerate(pieces[: DELTAS + 5]):
        reference.apply(piece, InputOffset(0, i))
    costs = _legacy(reference._tables["costs"])  # type: ignore[arg-type]
    usage = _legacy(reference._tables["usage"])  # type: ignore[arg-type]
    base_costs, base_usage = dict(costs), dict(usage)
    restarted = InputState(costs, usage, {})
    restarted.rebuild(lambda d: True)
    snapshots = []
    for i, piece in enumerate(pieces[DELTAS + 5 :], start=DELTAS + 5):
        reference.apply(piece, InputOffset(0, i))
        restarted.apply(piece, InputOffset(0, i))
        assert restarted.days == reference.days
        snapshots.append(
            (len(costs.log), len(usage.log), dict(reference.days[DAY].costs))
        )
    assert not [k for k in (*costs, *usage) if parse_key(k).legacy]
    again = InputState(costs, usage, {})
    again.rebuild(lambda d: True)
    assert again.days == reference.days
    # A crash anywhere in the rewrite: every prefix of the costs changelog that ends
    # inside or after a piece's writes rebuilds the state after that piece.
    start = 0
    for end_costs, end_usage, expected in snapshots:
        for cut in range(start + 1, end_costs + 1):
            crashed = InputState(
                _replayed(costs.log[:cut], base_costs),
                _replayed(usage.log[:end_usage], base_usage),
                {},
            )
            crashed.rebuild(lambda d: True)
            assert crashed.days[DAY].costs == expected, cut
        start = end_costs


def test_a_crash_while_legacy_keys_are_replaced_keeps_removed_nodes_removed() -> None:
    old = InputState(_Recording(), _Recording(), {})
    _apply(old, _costs(range(200), 7))  # every bucket holds nodes
    costs = _legacy(old._tables["costs"])  # type: ignore[arg-type]
    base = dict(costs)
    restarted = InputState(costs, {}, {})
    restarted.rebuild(lambda d: True)
    # The first piece replaces the date's costs: most buckets become empty.
    _apply(restarted, _costs(range(3), 9, replace=True))
    expected = {("bill", f"n{i}"): {"compute": 9} for i in range(3)}
    assert restarted.days[DAY].costs == expected
    assert not [k for k in costs if parse_key(k).legacy]
    for cut in range(1, len(costs.log) + 1):
        crashed = InputState(_replayed(costs.log[:cut], base), {}, {})
        crashed.rebuild(lambda d: True)
        assert crashed.days[DAY].costs == expected, cut
