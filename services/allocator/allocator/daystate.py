"""The allocator's inputs per charge date, mirrored into durable (Faust) tables."""

from __future__ import annotations

import functools
import json
import zlib
from collections import defaultdict
from collections.abc import Callable, Container, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from finops.contracts.events import DayInputsRouted
from finops.domain.allocation.tables import CostTable, UsageTable
from finops.domain.records import UsageRecord

__all__ = [
    "DayInputs",
    "InputState",
    "Touched",
    "UsageRows",
    "decode_bucket",
    "delta_key",
    "encode_bucket",
    "table_key",
]

_EPOCH = date(1970, 1, 1)
SEP = "\x1f"  # never part of a node id, source or metric we accept
Table = MutableMapping[str, Any]


# Nodes share table keys: a date's figures from one source live in this many bucket
# keys per table (a changelog message each cost about 0.1 ms of the worker's one core,
# and usage is copied to every date of its window).
BUCKETS = 64
# A piece is written as one delta key (the new values of the nodes it set); a date and
# source's dirty buckets are rewritten, and its deltas deleted, every DELTAS pieces.
# Rewriting every bucket a piece touched (all of them for a piece of hundreds of nodes)
# made the changelog carry the whole date again for each piece.
DELTAS = 16
# A piece whose delta would be larger than this (the first figures of a whole date)
# writes its buckets at once: a bucket is a 64th of a date, a message stays well under
# the broker's 1 MiB limit.
DELTA_MAX_BYTES = 256 * 1024
_BUCKET = "#"  # marks a bucket key; older keys named one node
_DELTA = "~"  # marks a delta key


def bucket_of(node: str) -> int:
    """The bucket of a node: stable across processes (unlike hash())."""
    return zlib.crc32(node.encode()) % BUCKETS


def table_key(day: date, source: str, bucket: int) -> str:
    """The key of one source's figures for one bucket of nodes on one charge date."""
    return f"{day.isoformat()}{SEP}{source}{SEP}{_BUCKET}{bucket}"


def delta_key(day: date, source: str, seq: int) -> str:
    """The key of one piece's changes to a source's figures on one charge date."""
    return f"{day.isoformat()}{SEP}{source}{SEP}{_DELTA}{seq:010d}"


def _split_key(key: str) -> tuple[date, str, str]:
    """Date, source and bucket mark ("#7") or, in keys of older versions, node."""
    day, source, rest = key.split(SEP)
    return date.fromisoformat(day), source, rest


def encode_bucket(nodes: Mapping[str, Any]) -> bytes:
    """A bucket's table value: JSON by orjson (busy dates write megabytes a second)."""
    return orjson.dumps(nodes)


def decode_bucket(value: bytes | str | Mapping[str, Any]) -> dict[str, Any]:
    """A table value back; values of older versions were stored as decoded JSON."""
    if isinstance(value, bytes | str):
        decoded: dict[str, Any] = orjson.loads(value)
        return decoded
    return dict(value)


def _usage_entry(row: UsageRecord) -> str:
    labels = (  # most rows have none: no encoder call for them
        json.dumps(row.labels, sort_keys=True, separators=(",", ":"))
        if row.labels
        else "{}"
    )
    return f"{row.date.isoformat()}{SEP}{row.metric}{SEP}{labels}"


@dataclass
class Touched:
    """Nodes whose costs or usage changed on a date since it was last allocated."""

    costs: set[str] = field(default_factory=set)
    usage: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)  # that set them

    def add(self, other: Touched) -> None:
        """Fold another change in."""
        self.costs |= other.costs
        self.usage |= other.usage
        self.sources |= other.sources


@dataclass
class DayInputs:
    """Costs {(source, node): {dimension: micros}}; usage {(source, node): {row: v}}."""

    costs: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    usage: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)

    def cost_totals(
        self, known: Container[str]
    ) -> tuple[dict[tuple[str, str], int], int]:
        """Direct costs per (node, dimension) summed over sources (known nodes only),
        and the rows left out."""
        totals, _, skipped = self.cost_summary(known, known)
        return totals, skipped

    def cost_summary(
        self, nodes: Container[str], known: Container[str]
    ) -> tuple[dict[tuple[str, str], int], set[str], int]:
        """Direct costs of some known nodes summed over sources, the dimensions of
        every known node's costs, and the rows left out (a busy date's recompute
        needs no more)."""
        totals: dict[tuple[str, str], int] = defaultdict(int)
        dimensions: set[str] = set()
        skipped = 0
        for (_, node), amounts in self.costs.items():
            if node not in known:
                skipped += len(amounts)
                continue
            dimensions.update(amounts)
            if node in nodes:
                for dimension, micros in amounts.items():
                    totals[(node, dimension)] += micros
        return totals, dimensions, skipped

    def usage_skipped(self, known: Container[str]) -> int:
        """Usage rows naming nodes the graph lacks."""
        return sum(len(e) for (_, n), e in self.usage.items() if n not in known)

    def cost_table(self, day: date, known: Container[str]) -> tuple[CostTable, int]:
        """Direct costs summed over sources (known nodes only), and rows left out."""
        totals, skipped = self.cost_totals(known)
        node_ids = sorted({n for n, _ in totals})
        dims = sorted({k for _, k in totals})
        nix, dix = _codes(node_ids), _codes(dims)
        table = CostTable(
            node=np.array([nix[n] for n, _ in totals], dtype=np.int64),
            day=np.full(len(totals), (day - _EPOCH).days, dtype=np.int64),
            dimension=np.array([dix[k] for _, k in totals], dtype=np.int64),
            micros=np.array(list(totals.values()), dtype=np.int64),
            node_ids=node_ids,
            dimensions=dims,
        )
        return table, skipped

    def usage_table(self, known: Container[str]) -> tuple[UsageTable, int]:
        """Every usage row that reaches this date, as the engine's columns."""
        rows = [
            (node, *_parse_entry(entry), value)
            for (_, node), entries in self.usage.items()
            if node in known
            for entry, value in entries.items()
        ]
        skipped = self.usage_skipped(known)
        if not rows:
            return UsageTable.empty(), skipped
        node_ids = sorted({r[0] for r in rows})
        metrics = sorted({r[2] for r in rows})
        labels = sorted({r[3] for r in rows})
        nix, mix, lix = _codes(node_ids), _codes(metrics), _codes(labels)
        table = UsageTable(
            node=np.array([nix[r[0]] for r in rows], dtype=np.int64),
            day=np.array([r[1] for r in rows], dtype=np.int64),
            metric=np.array([mix[r[2]] for r in rows], dtype=np.int64),
            value=np.array([r[4] for r in rows], dtype=np.float64),
            label=np.array([lix[r[3]] for r in rows], dtype=np.int64),
            node_ids=node_ids,
            metrics=metrics,
            label_sets=[json.loads(text) for text in labels],
        )
        return table, skipped


class UsageRows:
    """A date's usage as engine columns, re-parsing only the (source, node) values
    that changed since the last call (values are replaced, never changed in place).

    Equal to `DayInputs.usage_table` for the engine: codes differ, rows do not.
    """

    def __init__(self, graph_ids: Sequence[str], index: Mapping[str, int]) -> None:
        self._ids, self._index = graph_ids, index
        self._parsed: dict[tuple[str, str], tuple[object, NDArray[np.float64]]] = {}
        self._metrics: dict[str, int] = {}
        self._labels: dict[str, int] = {}

    def table(self, usage: Mapping[tuple[str, str], dict[str, float]]) -> UsageTable:
        """Columns of every usage row of known nodes (see DayInputs.usage_table)."""
        parsed: dict[tuple[str, str], tuple[object, NDArray[np.float64]]] = {}
        for key, entries in usage.items():
            if key[1] not in self._index:
                continue
            cached = self._parsed.get(key)
            if cached is None or cached[0] is not entries:
                cached = (entries, self._columns(self._index[key[1]], entries))
            parsed[key] = cached
        self._parsed = parsed
        if not parsed:
            return UsageTable.empty()
        rows = np.concatenate([columns for _, columns in parsed.values()], axis=1)
        return UsageTable(
            node=rows[0].astype(np.int64),
            day=rows[1].astype(np.int64),
            metric=rows[2].astype(np.int64),
            value=rows[4],
            label=rows[3].astype(np.int64),
            node_ids=self._ids,
            metrics=list(self._metrics),
            label_sets=[json.loads(text) for text in self._labels],
        )

    def _columns(self, node: int, entries: dict[str, float]) -> NDArray[np.float64]:
        """(5, rows): node, day, metric code, label code, value."""
        metrics, labels = self._metrics, self._labels
        rows = []
        for entry, value in entries.items():
            day, metric, label = _parse_entry(entry)
            m = metrics.get(metric)
            if m is None:
                m = metrics[metric] = len(metrics)
            lab = labels.get(label)
            if lab is None:
                lab = labels[label] = len(labels)
            rows.append((node, day, m, lab, value))
        if not rows:
            return np.empty((5, 0), dtype=np.float64)
        return np.array(rows, dtype=np.float64).T


def _codes(names: list[str]) -> dict[str, int]:
    return {name: i for i, name in enumerate(names)}


@functools.lru_cache(maxsize=65536)
def _parse_entry(entry: str) -> tuple[int, str, str]:
    """(day number, metric, labels JSON) of a usage entry key."""
    day, metric, labels = entry.split(SEP)
    return (date.fromisoformat(day) - _EPOCH).days, metric, labels


Stream = tuple[int, date, str]  # (table, date, source): what one delta key covers


class InputState:
    """Per-date inputs in memory, every change written through to the tables.

    A table holds, per date and source, bucket keys (the figures of the nodes of one
    bucket) and delta keys (the nodes one piece set since the buckets were last
    written, None for a node removed). Reading the buckets and then the deltas in
    order gives the current figures, even when a crash left deltas behind that the
    buckets already include.
    """

    def __init__(self, costs: Table, usage: Table, applied: Table) -> None:
        self._costs, self._usage, self._applied = costs, usage, applied
        self.days: dict[date, DayInputs] = {}
        # (table, date, source, bucket) -> {node: value}: what each bucket key holds
        # once its dirty buckets are written
        self._buckets: dict[tuple[int, date, str, int], dict[str, Any]] = {}
        self._legacy: dict[tuple[int, date, str, str], str] = {}  # one-node keys
        self._dirty: dict[Stream, set[int]] = {}  # buckets not written since changed
        self._deltas: dict[Stream, list[int]] = {}  # sequence numbers of delta keys
        self._changes: dict[Stream, dict[str, Any]] = {}  # of the piece being applied

    def apply(self, piece: DayInputsRouted, position: str) -> Touched:
        """Fold one routed piece in; replaying a piece leaves the state unchanged.

        Returns the nodes whose costs or usage the piece set."""
        day = self.days.setdefault(piece.charge_date, DayInputs())
        touched = Touched(
            self._apply_costs(day, piece), self._apply_usage(day, piece), {piece.source}
        )
        self._write_changes()
        self._applied[piece.charge_date.isoformat()] = {
            "inputs": position,
            "origin": piece.origin,
        }
        return touched

    def position(self, day: date) -> dict[str, str]:
        """Where the last input applied to this date came from."""
        return dict(self._applied.get(day.isoformat()) or {})

    def _apply_costs(self, day: DayInputs, piece: DayInputsRouted) -> set[str]:
        new: dict[str, dict[str, int]] = defaultdict(dict)
        for cost in piece.costs:
            amounts = new[cost.node]
            amounts[cost.dimension] = (
                amounts.get(cost.dimension, 0) + cost.amount_micros
            )
        touched = set(new)
        if piece.costs_replace:
            for _, node in [k for k in day.costs if k[0] == piece.source]:
                if node not in new:
                    self._set(self._costs, day.costs, piece, node, None)
                    touched.add(node)
        for node, amounts in new.items():
            old = {} if piece.costs_replace else day.costs.get((piece.source, node), {})
            self._set(self._costs, day.costs, piece, node, {**old, **amounts})
        return touched

    def _apply_usage(self, day: DayInputs, piece: DayInputsRouted) -> set[str]:
        new: dict[str, dict[str, float]] = defaultdict(dict)
        for row in piece.usage:
            entries, entry = new[row.node], _usage_entry(row)
            entries[entry] = entries.get(entry, 0.0) + row.value
        scope = piece.usage_replaces
        touched = set(new)
        if scope is not None:
            touched |= {n for s, n in day.usage if s == piece.source}
        for node in touched:
            kept = dict(day.usage.get((piece.source, node), {}))
            if scope is not None:
                first, last = scope.first.isoformat(), scope.last.isoformat()
                kept = {e: v for e, v in kept.items() if not first <= e[:10] <= last}
            kept.update(new.get(node, {}))
            self._set(self._usage, day.usage, piece, node, kept or None)
        return touched

    def _set(
        self,
        table: Table,
        index: dict[tuple[str, str], Any],
        piece: DayInputsRouted,
        node: str,
        value: dict[str, Any] | None,
    ) -> None:
        """Set one node's value in the index; the piece's delta key records it."""
        which, day, source = id(table), piece.charge_date, piece.source
        self._set_node((which, day, source), index, node, value)
        self._changes.setdefault((which, day, source), {})[node] = value
        legacy = self._legacy.pop((which, day, source, node), None)
        if legacy is not None and legacy in table:
            del table[legacy]

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
        if value is None:
            index.pop((source, node), None)
            nodes.pop(node, None)
        else:
            index[(source, node)] = value
            nodes[node] = value
        self._dirty.setdefault(stream, set()).add(bucket)

    def _tables(self) -> dict[int, Table]:
        return {id(self._costs): self._costs, id(self._usage): self._usage}

    def _write_changes(self) -> None:
        """One delta key per table, date and source the piece changed; every DELTAS
        of them (or for a piece too large for one), that stream's dirty buckets are
        written and its deltas deleted."""
        tables = self._tables()
        for stream, changes in self._changes.items():
            table, (_, day, source) = tables[stream[0]], stream
            value = encode_bucket(changes)
            if len(value) > DELTA_MAX_BYTES:
                self._write_buckets(stream, table)
                continue
            seqs = self._deltas.setdefault(stream, [])
            seq = seqs[-1] + 1 if seqs else 0
            table[delta_key(day, source, seq)] = value
            seqs.append(seq)
            if len(seqs) >= DELTAS:
                self._write_buckets(stream, table)
        self._changes.clear()

    def _write_buckets(self, stream: Stream, table: Table) -> None:
        """Write a stream's dirty buckets, then delete the deltas they now include."""
        _, day, source = stream
        for bucket in sorted(self._dirty.pop(stream, ())):
            key = table_key(day, source, bucket)
            nodes = self._buckets.get((*stream, bucket))
            if nodes:
                table[key] = encode_bucket(nodes)
            else:
                self._buckets.pop((*stream, bucket), None)
                if key in table:
                    del table[key]
        for seq in self._deltas.pop(stream, []):
            key = delta_key(day, source, seq)
            if key in table:
                del table[key]

    def rebuild(self, owns: Callable[[date], bool]) -> None:
        """Rebuild the in-memory index from the tables, keeping the dates we own.

        Keys of older versions (one node each) are read first, then buckets, then
        deltas in order: a newer value for the same node wins, and an old one-node
        key goes when the node is next set.
        """
        self.days, self._buckets, self._legacy = {}, {}, {}
        self._dirty, self._deltas, self._changes = {}, {}, {}
        for table, attr in ((self._costs, "costs"), (self._usage, "usage")):
            items = sorted(
                (_key_order(rest), day, source, rest, key, v)
                for key, v in table.items()
                if v
                for day, source, rest in [_split_key(key)]
                if owns(day)
            )
            for (rank, seq), day, source, rest, key, value in items:
                index = getattr(self.days.setdefault(day, DayInputs()), attr)
                stream = (id(table), day, source)
                nodes = decode_bucket(value)
                if rank == _RANK_DELTA:
                    self._deltas.setdefault(stream, []).append(seq)
                    for node, figures in nodes.items():
                        self._set_node(stream, index, node, figures)
                    continue
                if rank == _RANK_LEGACY:  # rest is the key's one node
                    self._legacy[(*stream, rest)] = key
                    nodes = {rest: nodes}
                for node, figures in nodes.items():
                    index[(source, node)] = figures
                    self._buckets.setdefault((*stream, bucket_of(node)), {})[node] = (
                        figures
                    )

    def forget(self, owns: Callable[[date], bool]) -> None:
        """Drop the dates we no longer own (after a rebalance)."""
        self.days = {d: v for d, v in self.days.items() if owns(d)}
        self._buckets = {k: v for k, v in self._buckets.items() if owns(k[1])}
        self._dirty = {k: v for k, v in self._dirty.items() if owns(k[1])}
        self._deltas = {k: v for k, v in self._deltas.items() if owns(k[1])}


_RANK_LEGACY, _RANK_BUCKET, _RANK_DELTA = 0, 1, 2


def _key_order(rest: str) -> tuple[int, int]:
    """One-node keys of older versions first, then buckets, then deltas in order."""
    if rest.startswith(_DELTA):
        return _RANK_DELTA, int(rest[1:])
    if rest.startswith(_BUCKET):
        return _RANK_BUCKET, int(rest[1:])
    return _RANK_LEGACY, 0
