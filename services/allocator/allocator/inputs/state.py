"""The allocator's inputs per charge date, mirrored into durable (Faust) tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, MutableMapping
from datetime import date
from typing import Any, Final, Literal

from allocator.inputs.days import DayInputs, Touched, normal_entry, usage_entry
from allocator.inputs.keys import (
    KeyKind,
    TableKey,
    bucket_key,
    bucket_of,
    decode_bucket,
    delta_key,
    encode_bucket,
    parse_key,
)
from allocator.offsets import DayOffsets, InputOffset
from finops.contracts.events import DayInputsRouted

__all__ = ["COSTS", "DELTAS", "DELTA_MAX_BYTES", "USAGE", "InputState", "TableName"]

Table = MutableMapping[str, Any]
TableName = Literal["costs", "usage"]  # the Faust tables of the inputs
COSTS: Final = "costs"
USAGE: Final = "usage"
Stream = tuple[TableName, date, str]  # (table, date, source): what one delta key covers

# A date and source's dirty buckets are rewritten, and its deltas deleted, every
# DELTAS pieces (docs/decisions/0005-changelog-buckets-and-deltas.md).
DELTAS = 16
# A piece whose delta would be larger writes its buckets at once: a bucket is a 64th
# of a date, a message stays well under the broker's 1 MiB limit.
DELTA_MAX_BYTES = 256 * 1024


class InputState:
    """Per-date inputs in memory, every change written through to the tables.

    A table holds, per date and source, bucket keys (the figures of the nodes of one
    bucket) and delta keys (the nodes one piece set since the buckets were last
    written, None for a node removed). Reading the buckets and then the deltas in
    order gives the current figures, even when a crash left deltas behind that the
    buckets already include.

    Keys of the legacy form (joined strings, before issue 16) are read first; the
    first piece applied to their date and source after a restart writes every bucket
    they held in today's form, then deletes them
    (docs/decisions/0210-structured-allocator-keys.md).
    """

    def __init__(self, costs: Table, usage: Table, applied: Table) -> None:
        self._tables: dict[TableName, Table] = {COSTS: costs, USAGE: usage}
        self._applied = applied
        self.days: dict[date, DayInputs] = {}
        # (table, date, source, bucket) -> {node: value}: what each bucket key holds
        # once its dirty buckets are written
        self._buckets: dict[tuple[TableName, date, str, int], dict[str, Any]] = {}
        self._dirty: dict[Stream, set[int]] = {}  # buckets not written since changed
        self._deltas: dict[Stream, list[int]] = {}  # sequence numbers of delta keys
        self._changes: dict[Stream, dict[str, Any]] = {}  # of the piece being applied
        self._legacy: dict[Stream, list[str]] = {}  # keys of the old form, per stream

    def apply(self, piece: DayInputsRouted, position: InputOffset) -> Touched:
        """Fold one routed piece in; replaying a piece leaves the state unchanged.

        Returns the nodes whose costs or usage the piece set."""
        day = self.days.setdefault(piece.charge_date, DayInputs())
        touched = Touched(
            self._apply_costs(day, piece),
            self._apply_usage(day, piece),
            {piece.source},
            {row.metric for row in piece.usage},
            piece.usage_replaces is not None,
        )
        self._write_changes()
        self._applied[piece.charge_date.isoformat()] = {
            "inputs": str(position),
            "origin": piece.origin,  # already topic/partition/offset
        }
        return touched

    def position(self, day: date) -> DayOffsets | None:
        """Where the last input applied to this date came from (None: nothing)."""
        value = self._applied.get(day.isoformat())
        return DayOffsets.from_json(value) if value else None

    def _apply_costs(self, day: DayInputs, piece: DayInputsRouted) -> set[str]:
        new: dict[str, dict[str, int]] = defaultdict(dict)
        for cost in piece.costs:
            amounts = new[cost.node]
            amounts[cost.dimension] = (
                amounts.get(cost.dimension, 0) + cost.amount_micros
            )
        touched = set(new)
        if not new and not piece.costs_replace:
            return touched
        writer = self._writer(COSTS, piece)
        if piece.costs_replace:
            for _, node in [k for k in day.costs if k[0] == piece.source]:
                if node not in new:
                    writer(day.costs, node, None)
                    touched.add(node)
        for node, amounts in new.items():
            old = {} if piece.costs_replace else day.costs.get((piece.source, node), {})
            writer(day.costs, node, {**old, **amounts})
        return touched

    def _apply_usage(self, day: DayInputs, piece: DayInputsRouted) -> set[str]:
        new: dict[str, dict[str, float]] = defaultdict(dict)
        for row in piece.usage:
            entries, entry = new[row.node], usage_entry(row)
            entries[entry] = entries.get(entry, 0.0) + row.value
        scope = piece.usage_replaces
        touched = set(new)
        if scope is not None:
            touched |= {n for s, n in day.usage if s == piece.source}
        if not touched:
            return touched
        writer, source, index = self._writer(USAGE, piece), piece.source, day.usage
        if scope is None:  # the common case: the node's entries, the new ones over
            for node, entries in new.items():
                old = index.get((source, node))
                writer(index, node, {**old, **entries} if old else entries)
            return touched
        first, last = scope.first.isoformat(), scope.last.isoformat()
        for node in touched:
            kept = dict(index.get((source, node), {}))
            kept = {e: v for e, v in kept.items() if not first <= e[:10] <= last}
            kept.update(new.get(node, {}))
            writer(index, node, kept or None)
        return touched

    def _writer(
        self, table: TableName, piece: DayInputsRouted
    ) -> Callable[[dict[tuple[str, str], Any], str, dict[str, Any] | None], None]:
        """Sets one node's value in an index; the piece's delta key records it (the
        stream's lookups done once per piece, not once per node)."""
        stream: Stream = (table, piece.charge_date, piece.source)
        buckets, source = self._buckets, piece.source
        changes: dict[str, Any] | None = None  # the stream's, once a node is set
        dirty: set[int] = set()

        def write(
            index: dict[tuple[str, str], Any], node: str, value: dict[str, Any] | None
        ) -> None:
            nonlocal changes, dirty
            if changes is None:
                changes = self._changes.setdefault(stream, {})
                dirty = self._dirty.setdefault(stream, set())
            bucket = bucket_of(node)
            slot = (table, stream[1], source, bucket)
            nodes = buckets.get(slot)
            if nodes is None:
                nodes = buckets[slot] = {}
            _place(index, nodes, source, node, value)
            dirty.add(bucket)
            changes[node] = value

        return write

    def _set_node(
        self,
        stream: Stream,
        index: dict[tuple[str, str], Any],
        node: str,
        value: dict[str, Any] | None,
    ) -> None:
        """One node's value in the index and its bucket (None: removed)."""
        source, bucket = stream[2], bucket_of(node)
        nodes = self._buckets.setdefault((*stream, bucket), {})
        _place(index, nodes, source, node, value)
        self._dirty.setdefault(stream, set()).add(bucket)

    def _write_changes(self) -> None:
        """One delta key per table, date and source the piece changed; every DELTAS
        of them (or for a piece too large for one), that stream's dirty buckets are
        written and its deltas deleted."""
        for stream, changes in self._changes.items():
            name, day, source = stream
            value = encode_bucket(changes)
            if len(value) > DELTA_MAX_BYTES:
                self._write_buckets(stream)
                continue
            seqs = self._deltas.setdefault(stream, [])
            seq = seqs[-1] + 1 if seqs else 0
            self._tables[name][delta_key(day, source, seq)] = value
            seqs.append(seq)
            if len(seqs) >= DELTAS or stream in self._legacy:
                self._write_buckets(stream)
        self._changes.clear()

    def _write_buckets(self, stream: Stream) -> None:
        """Write a stream's dirty buckets, then delete the deltas (and keys of the
        legacy form) they now include."""
        name, day, source = stream
        table = self._tables[name]
        legacy = self._legacy.pop(stream, [])
        for bucket in sorted(self._dirty.pop(stream, ())):
            key = bucket_key(day, source, bucket)
            nodes = self._buckets.get((*stream, bucket))
            if nodes:
                table[key] = encode_bucket(nodes)
            elif legacy:  # an empty bucket, read after the legacy one it replaces
                self._buckets.pop((*stream, bucket), None)
                table[key] = encode_bucket({})
            else:
                self._buckets.pop((*stream, bucket), None)
                if key in table:
                    del table[key]
        for seq in self._deltas.pop(stream, []):
            key = delta_key(day, source, seq)
            if key in table:
                del table[key]
        for key in legacy:
            if key in table:
                del table[key]

    def rebuild(self, owns: Callable[[date], bool]) -> None:
        """Rebuild the in-memory index from the tables, keeping the dates we own:
        buckets first, then deltas in order (a newer value for a node wins)."""
        self.days, self._buckets = {}, {}
        self._dirty, self._deltas, self._changes = {}, {}, {}
        self._legacy = {}
        for name, table in self._tables.items():
            for raw, key, value in _owned_in_order(table, owns):
                self._restore(name, raw, key, value)

    def _restore(self, name: TableName, raw: str, key: TableKey, value: Any) -> None:
        """Fold one stored bucket or delta into the index."""
        inputs = self.days.setdefault(key.day, DayInputs())
        index: dict[tuple[str, str], Any] = (
            inputs.costs if name == COSTS else inputs.usage
        )
        stream: Stream = (name, key.day, key.source)
        nodes = decode_bucket(value)
        if key.legacy:
            self._legacy.setdefault(stream, []).append(raw)
            if name == USAGE:
                nodes = {n: _normal_entries(e) for n, e in nodes.items()}
        if key.kind is KeyKind.DELTA:
            if not key.legacy:
                self._deltas.setdefault(stream, []).append(key.number)
            for node, figures in nodes.items():
                self._set_node(stream, index, node, figures)
            return
        held = self._buckets.pop((*stream, key.number), {})
        for node in held:  # a bucket of today's form replaces the legacy one whole
            index.pop((key.source, node), None)
        for node, figures in nodes.items():
            index[(key.source, node)] = figures
            self._buckets.setdefault((*stream, bucket_of(node)), {})[node] = figures
        if key.legacy:  # written again in today's form by the stream's next piece
            self._dirty.setdefault(stream, set()).add(key.number)


def _normal_entries(entries: dict[str, float] | None) -> dict[str, float] | None:
    """A node's usage entries of the legacy form in today's form."""
    if entries is None:
        return None
    return {normal_entry(entry): value for entry, value in entries.items()}


def _owned_in_order(
    table: Table, owns: Callable[[date], bool]
) -> list[tuple[str, TableKey, Any]]:
    """The keys of owned dates with a value: those of the legacy form first, then
    buckets, then deltas in order."""
    keys = [(raw, parse_key(raw), value) for raw, value in table.items() if value]
    owned = [(raw, key, value) for raw, key, value in keys if owns(key.day)]
    return sorted(
        owned,
        key=lambda kv: (
            not kv[1].legacy,
            kv[1].kind,
            kv[1].number,
            kv[1].day,
            kv[1].source,
        ),
    )


def _place(
    index: dict[tuple[str, str], Any],
    nodes: dict[str, Any],
    source: str,
    node: str,
    value: dict[str, Any] | None,
) -> None:
    """One node's value in a day's index and in its bucket (None: removed)."""
    if value is None:
        index.pop((source, node), None)
        nodes.pop(node, None)
    else:
        index[(source, node)] = value
        nodes[node] = value
