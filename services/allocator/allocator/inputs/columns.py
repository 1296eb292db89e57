"""A date's inputs as the engine's NumPy columns (cost and usage tables)."""

from __future__ import annotations

import functools
import json
from collections.abc import Container, Mapping, Sequence
from datetime import date

import numpy as np
from numpy.typing import NDArray

from allocator.inputs.days import DayInputs, entry_parts
from finops.domain.allocation.tables import CostTable, UsageTable
from finops.domain.allocation.usage import UsagePatch

__all__ = [
    "UsageRows",
    "cost_table",
    "parse_entry",
    "summed_cost_table",
    "usage_table",
]

_EPOCH = date(1970, 1, 1)


@functools.lru_cache(maxsize=65536)
def parse_entry(entry: str) -> tuple[int, str, str]:
    """(day number, metric, labels JSON) of a usage entry (see days.usage_entry)."""
    day, metric, labels = entry_parts(entry)
    return (date.fromisoformat(day) - _EPOCH).days, metric, labels


def cost_table(
    inputs: DayInputs, day: date, known: Container[str]
) -> tuple[CostTable, int]:
    """Direct costs summed over sources (known nodes only), and rows left out."""
    totals, skipped = inputs.cost_totals(known)
    dims = sorted({k for _, k in totals})
    return summed_cost_table([day], [totals], dims), skipped


def summed_cost_table(
    days: Sequence[date],
    totals: Sequence[Mapping[tuple[str, str], int]],
    dims: list[str],
) -> CostTable:
    """Dates' costs summed per (node, dimension) as one table, each date its day."""
    node_ids = sorted({n for sums in totals for n, _ in sums})
    nix, dix = _codes(node_ids), _codes(dims)
    rows = [
        ((day - _EPOCH).days, key, micros)
        for day, sums in zip(days, totals, strict=True)
        for key, micros in sums.items()
    ]
    return CostTable(
        node=np.array([nix[n] for _, (n, _), _ in rows], dtype=np.int64),
        day=np.array([d for d, _, _ in rows], dtype=np.int64),
        dimension=np.array([dix[k] for _, (_, k), _ in rows], dtype=np.int64),
        micros=np.array([m for _, _, m in rows], dtype=np.int64),
        node_ids=node_ids,
        dimensions=dims,
    )


def usage_table(inputs: DayInputs, known: Container[str]) -> tuple[UsageTable, int]:
    """Every usage row that reaches this date, as the engine's columns."""
    rows = [
        (node, *parse_entry(entry), value)
        for (_, node), entries in inputs.usage.items()
        if node in known
        for entry, value in entries.items()
    ]
    skipped = inputs.usage_skipped(known)
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

    `table` gives every row (equal to `usage_table` for the engine: codes differ,
    rows do not); `patch`, once a table was given, only the rows of the nodes whose
    values changed since, and the cells that changed.
    """

    def __init__(self, graph_ids: Sequence[str], index: Mapping[str, int]) -> None:
        self._ids, self._index = graph_ids, index
        self._parsed: dict[
            tuple[str, str], tuple[dict[str, float], NDArray[np.float64]]
        ] = {}
        self._metrics: dict[str, int] = {}
        self._labels: dict[str, int] = {}
        self._label_sets: list[dict[str, object]] = []
        self._given = False  # whether a table was given (patches follow it)
        self._sources: set[str] = set()  # of the keys parsed (some may have gone)

    def table(self, usage: Mapping[tuple[str, str], dict[str, float]]) -> UsageTable:
        """Columns of every usage row of known nodes (see usage_table)."""
        parsed: dict[tuple[str, str], tuple[dict[str, float], NDArray[np.float64]]] = {}
        for key, entries in usage.items():
            if key[1] not in self._index:
                continue
            cached = self._parsed.get(key)
            if cached is None or cached[0] is not entries:
                cached = (entries, self._columns(self._index[key[1]], entries))
            parsed[key] = cached
        self._parsed, self._given = parsed, True
        self._sources = {source for source, _ in parsed}
        return self._rows_table([columns for _, columns in parsed.values()])

    def patch(
        self, usage: Mapping[tuple[str, str], dict[str, float]]
    ) -> UsagePatch | None:
        """Every row of the known nodes whose values changed since the last table or
        patch, and the (node, day, metric) cells whose entries changed; None before
        any table (the engine's view is then not the one these rows were read for).
        """
        if not self._given:
            return None
        parsed, index = self._parsed, self._index
        cells: set[tuple[int, int, str]] = set()
        nodes: set[int] = set()
        known = 0  # keys of known nodes in `usage`: fewer than parsed, some went
        for key, entries in usage.items():
            cached = parsed.get(key)
            if cached is not None and cached[0] is entries:
                known += 1
                continue
            node = index.get(key[1])
            if node is None:
                continue
            known += 1
            before: Mapping[str, float] = cached[0] if cached else {}
            _changed_cells(node, before, entries, cells)
            parsed[key] = (entries, self._columns(node, entries))
            nodes.add(node)
            self._sources.add(key[0])
        if len(parsed) > known:
            for key in [k for k in parsed if k not in usage]:
                node = index[key[1]]
                _changed_cells(node, parsed.pop(key)[0], {}, cells)
                nodes.add(node)
        codes = sorted(nodes)
        sources = sorted(self._sources)
        keys = [(s, self._ids[n]) for n in codes for s in sources]
        columns = [parsed[k][1] for k in keys if k in parsed]
        return UsagePatch(
            np.array(codes, dtype=np.int64), self._rows_table(columns), frozenset(cells)
        )

    def _rows_table(self, columns: list[NDArray[np.float64]]) -> UsageTable:
        if not columns:
            return UsageTable.empty()
        rows = np.concatenate(columns, axis=1)
        return UsageTable(
            node=rows[0].astype(np.int64),
            day=rows[1].astype(np.int64),
            metric=rows[2].astype(np.int64),
            value=rows[4],
            label=rows[3].astype(np.int64),
            node_ids=self._ids,
            metrics=list(self._metrics),
            label_sets=list(self._label_sets),
        )

    def _columns(self, node: int, entries: dict[str, float]) -> NDArray[np.float64]:
        """(5, rows): node, day, metric code, label code, value."""
        metrics, labels = self._metrics, self._labels
        rows = []
        for entry, value in entries.items():
            day, metric, label = parse_entry(entry)
            m = metrics.get(metric)
            if m is None:
                m = metrics[metric] = len(metrics)
            lab = labels.get(label)
            if lab is None:
                lab = labels[label] = len(labels)
                self._label_sets.append(json.loads(label))
            rows.append((node, day, m, lab, value))
        if not rows:
            return np.empty((5, 0), dtype=np.float64)
        return np.array(rows, dtype=np.float64).T


def _changed_cells(
    node: int,
    before: Mapping[str, float],
    after: Mapping[str, float],
    cells: set[tuple[int, int, str]],
) -> None:
    """Add the (node, day, metric) cells of the entries that differ."""
    for entry, value in after.items():
        if before.get(entry) != value:
            day, metric, _ = parse_entry(entry)
            cells.add((node, day, metric))
    for entry in before:
        if entry not in after:
            day, metric, _ = parse_entry(entry)
            cells.add((node, day, metric))


def _codes(names: list[str]) -> dict[str, int]:
    return {name: i for i, name in enumerate(names)}
