"""Usage as dense node-by-day matrices, built on demand per metric and segment."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from finops.domain.allocation.tables import UsageTable
from finops.domain.rules import AllocationRule, SegmentFilter, StrategyName

__all__ = [
    "StackedUsage",
    "UsagePatch",
    "UsageSource",
    "UsageView",
    "usage_code",
    "usage_key",
]

_Key = tuple[str, SegmentFilter | None, int]
_Daily = tuple[NDArray[np.float64], NDArray[np.bool_]]


# Codes of the usage keys seen so far: rules with one code see the same usage. A few
# per graph (metric, window, segment); equal rules are mostly one object, so the
# code is looked up by identity first.
_CODES: dict[tuple[object, ...], int] = {}
_BY_RULE: dict[int, tuple[AllocationRule, int]] = {}
_NO_USAGE = -1
_BY_RULE_LIMIT = 1 << 16


def usage_key(rule: AllocationRule) -> tuple[object, ...]:
    """Rules with equal keys see the same usage."""
    weighted = rule.strategy is StrategyName.WEIGHTED_AVERAGE
    return (rule.metric, rule.window_days if weighted else 0, repr(rule.segment))


def usage_code(rule: AllocationRule) -> int:
    """A small integer per usage key (-1 for a rule without a metric)."""
    if rule.metric is None:
        return _NO_USAGE
    seen = _BY_RULE.get(id(rule))
    if seen is not None and seen[0] is rule:
        return seen[1]
    code = _CODES.setdefault(usage_key(rule), len(_CODES))
    if len(_BY_RULE) >= _BY_RULE_LIMIT:
        _BY_RULE.clear()
    _BY_RULE[id(rule)] = (rule, code)  # keeps the rule, so its id stays its own
    return code


class UsageSource(Protocol):
    """What plans and strategies read usage through (UsageView, StackedUsage)."""

    def values(
        self, rule: AllocationRule, nodes: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Usage of the given nodes for a rule: a row per node, a column per day."""
        ...  # pragma: no cover

    def set_value(
        self, node: int, day: int, metric: str, value: float, labels: dict[str, Any]
    ) -> None:
        """Replace the usage rows of one node, day and metric by a single row."""
        ...  # pragma: no cover


@dataclass(frozen=True)
class UsagePatch:
    """Every usage row of some nodes, to replace what a view holds for them
    (`UsageView.replace_nodes`), and the cells whose rows differ from the view's.

    `rows.node` holds graph node codes (any order: the view sorts them); `nodes`
    the codes whose rows are replaced (sorted, unique; a node without rows left
    has none); `cells` the (node code, day number, metric) whose rows changed:
    what the plans of the nodes' parents may see move.
    """

    nodes: NDArray[np.int64]
    rows: UsageTable
    cells: frozenset[tuple[int, int, str]]


class StackedUsage:
    """Usage of consecutive days, each day read through a view of its own.

    Column t of `values` is what `views[t]` (a one-day view of day t) gives, bit for
    bit: an engine over the days then computes each day exactly as a one-day engine
    over that day's table does. The allocator's busy dates each hold their own copy
    of the usage of their window; an engine over several of them reads each date's
    shares from that date's copy (decision 0320).
    """

    def __init__(self, views: Sequence[UsageView]) -> None:
        if not views or any(v.n_days != 1 for v in views):
            raise ValueError("stacked usage is made of one-day views")
        self.views = tuple(views)

    def values(
        self, rule: AllocationRule, nodes: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Usage u of the given nodes for a rule: column t from day t's view."""
        return np.hstack([view.values(rule, nodes) for view in self.views])

    def set_value(
        self, node: int, day: int, metric: str, value: float, labels: dict[str, Any]
    ) -> None:
        """Replace the usage rows of one node, day and metric in every day's view
        (each applies it where its range and windows see that day)."""
        for view in self.views:
            view.set_value(node, day, metric, value, labels)


class UsageView:
    """Usage of every graph node per day over the allocation range and days before."""

    def __init__(
        self,
        table: UsageTable,
        node_index: NDArray[np.int64],
        *,
        n_nodes: int,
        first_day: int,
        n_days: int,
    ) -> None:
        node = node_index[table.node] if table.node.size else table.node
        order = _canonical_order(node, table)
        self._node, self._day = node[order], table.day[order]
        self._metric, self._value = table.metric[order], table.value[order]
        self._label = table.label[order]
        self._metrics = {m: i for i, m in enumerate(table.metrics)}
        self._label_sets = list(table.label_sets)
        self._n_nodes, self._first, self._n_days = n_nodes, first_day, n_days
        self._cache: dict[_Key, _Daily] = {}
        # values() may run on two threads at once (`plans` with an executor):
        # each matrix is built once, under the lock.
        self._building = threading.Lock()
        self._by_metric: list[NDArray[np.int64]] | None = None  # rows per metric
        self._edits: dict[tuple[int, int, str], tuple[float, dict[str, Any]]] = {}
        # Nodes whose rows a patch replaced: their rows (day, metric, labels, value).
        self._replaced: dict[int, _NodeRows] = {}

    def values(
        self, rule: AllocationRule, nodes: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Usage u of the given nodes for a rule: a row per node, a column per day."""
        assert rule.metric is not None
        if rule.strategy is StrategyName.WEIGHTED_AVERAGE:
            return self._window_mean(rule.metric, rule.window_days, nodes)
        sums, _ = self._daily((rule.metric, rule.segment, 0))
        return sums[nodes]

    def key(self, rule: AllocationRule) -> tuple[object, ...]:
        """Rules with equal keys see the same usage."""
        return usage_key(rule)

    @property
    def n_days(self) -> int:
        """Days of the range the view gives columns for."""
        return self._n_days

    def set_value(
        self, node: int, day: int, metric: str, value: float, labels: dict[str, Any]
    ) -> None:
        """Replace the usage rows of one node, day and metric by a single row."""
        self._edits[(node, day, metric)] = (value, labels)
        for key, (sums, has) in self._cache.items():
            if key[0] == metric:
                self._apply_edit(key, sums, has, (node, day), (value, labels))

    def replace_nodes(self, patch: UsagePatch) -> None:
        """Replace every usage row of the patch's nodes by its rows: each cached
        node-by-day matrix gets their rows recomputed, summed in the view's
        canonical order (per cell, values ascending), so every figure is the one a
        view built afresh from the new rows gives, bit for bit."""
        rows = patch.rows
        order = np.lexsort((rows.value, rows.metric, rows.day, rows.node))
        node, day = rows.node[order], rows.day[order]
        metric, label, value = rows.metric[order], rows.label[order], rows.value[order]
        nodes = patch.nodes
        slot = np.searchsorted(nodes, node)
        if node.size and (
            slot.max() >= nodes.size or not np.array_equal(nodes[slot], node)
        ):
            raise ValueError("a patch's rows name nodes it does not replace")
        if self._edits:
            gone = set(nodes.tolist())
            self._edits = {k: e for k, e in self._edits.items() if k[0] not in gone}
        names, label_sets = list(rows.metrics), list(rows.label_sets)
        for key, (sums, has) in self._cache.items():
            m = names.index(key[0]) if key[0] in names else -1
            ok = _segment_ok(key[1], label_sets)
            _fill(
                self._first - key[2],
                sums,
                has,
                nodes,
                slot,
                day,
                (metric == m) & (ok[label] if ok is not None else True),
                value,
            )
        bounds = np.searchsorted(node, nodes, side="left").tolist()
        ends = np.searchsorted(node, nodes, side="right").tolist()
        for n, a, b in zip(nodes.tolist(), bounds, ends, strict=True):
            self._replaced[n] = _NodeRows(  # copies: a slice would keep the patch
                day[a:b].copy(),
                [names[c] for c in metric[a:b].tolist()],
                [label_sets[c] for c in label[a:b].tolist()],
                value[a:b].copy(),
            )

    def _window_mean(
        self, metric: str, window: int, nodes: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        sums, has = self._daily((metric, None, window - 1))
        total = np.cumsum(sums[nodes], axis=1)
        count = np.cumsum(has[nodes], axis=1)
        total[:, window:] = total[:, window:] - total[:, :-window]
        count[:, window:] = count[:, window:] - count[:, :-window]
        total, count = total[:, window - 1 :], count[:, window - 1 :]
        out = np.zeros(total.shape, dtype=np.float64)
        return np.divide(total, count, out=out, where=count > 0)

    def _daily(self, key: _Key) -> _Daily:
        daily = self._cache.get(key)
        if daily is None:
            with self._building:
                daily = self._cache.get(key)
                if daily is None:
                    daily = self._cache[key] = self._build(key)
        return daily

    def _build(self, key: _Key) -> _Daily:
        metric, segment, lead = key
        width = self._n_days + lead
        rows = self._rows_of(self._metrics.get(metric, -1))
        col = self._day[rows] - (self._first - lead)
        keep = (col >= 0) & (col < width)
        if segment is not None:
            ok = np.array([segment.matches(ls) for ls in self._label_sets], dtype=bool)
            keep &= ok[self._label[rows]]
        rows = rows[keep]
        flat = self._node[rows] * width + col[keep]
        size = self._n_nodes * width
        weights = self._value[rows]
        sums = np.bincount(flat, weights=weights, minlength=size).astype(
            np.float64,
            copy=False,  # float64 already with weights: no copy
        )
        has = np.bincount(flat, minlength=size) > 0
        sums, has = (
            sums.reshape(self._n_nodes, width),
            has.reshape(self._n_nodes, width),
        )
        if self._replaced:
            self._fill_replaced(key, sums, has)
        for (node, day, m), edit in self._edits.items():
            if m == metric:
                self._apply_edit(key, sums, has, (node, day), edit)
        return sums, has

    def _fill_replaced(
        self, key: _Key, sums: NDArray[np.float64], has: NDArray[np.bool_]
    ) -> None:
        """The rows of the nodes patches replaced, into a matrix built from the
        view's first table (whose rows of those nodes they override)."""
        metric, segment, lead = key
        nodes = np.array(sorted(self._replaced), dtype=np.int64)
        parts = [self._replaced[n] for n in nodes.tolist()]
        sizes = [len(p.value) for p in parts]
        slot = np.repeat(np.arange(nodes.size), sizes)
        day = np.concatenate([p.day for p in parts])
        keep = np.array(
            [
                m == metric and (segment is None or segment.matches(labels))
                for p in parts
                for m, labels in zip(p.metrics, p.labels, strict=True)
            ],
            dtype=bool,
        )
        value = np.concatenate([p.value for p in parts])
        _fill(self._first - lead, sums, has, nodes, slot, day, keep, value)

    def _rows_of(self, metric: int) -> NDArray[np.int64]:
        """Rows of one metric code, in row order (so sums add up as before)."""
        if self._by_metric is None:
            order = np.argsort(self._metric, kind="stable")
            bounds = np.searchsorted(
                self._metric[order], np.arange(len(self._metrics) + 1)
            )
            self._by_metric = [order[a:b] for a, b in pairwise(bounds.tolist())]
        if not 0 <= metric < len(self._by_metric):
            return np.zeros(0, dtype=np.int64)
        return self._by_metric[metric]

    def _apply_edit(
        self,
        key: _Key,
        sums: NDArray[np.float64],
        has: NDArray[np.bool_],
        cell: tuple[int, int],
        edit: tuple[float, dict[str, Any]],
    ) -> None:
        _, segment, lead = key
        col = cell[1] - (self._first - lead)
        if not 0 <= col < sums.shape[1]:
            return
        matches = segment is None or segment.matches(edit[1])
        sums[cell[0], col] = edit[0] if matches else 0.0
        has[cell[0], col] = matches


@dataclass(frozen=True)
class _NodeRows:
    """One node's usage rows as a patch left them, in canonical order."""

    day: NDArray[np.int64]
    metrics: list[str]
    labels: list[dict[str, Any]]
    value: NDArray[np.float64]


def _segment_ok(
    segment: SegmentFilter | None, label_sets: list[dict[str, Any]]
) -> NDArray[np.bool_] | None:
    """Per label set, whether a segment keeps it (None: no segment, all kept)."""
    if segment is None:
        return None
    return np.array([segment.matches(ls) for ls in label_sets], dtype=bool)


def _fill(
    origin: int,
    sums: NDArray[np.float64],
    has: NDArray[np.bool_],
    nodes: NDArray[np.int64],
    slot: NDArray[np.int64],
    day: NDArray[np.int64],
    keep: NDArray[np.bool_] | bool,
    value: NDArray[np.float64],
) -> None:
    """Set the matrix rows of `nodes` from their usage rows (slot: each row's
    position in `nodes`; rows in canonical order; keep: the rows of the matrix's
    metric and segment), as `_build` sums them: per cell from 0.0, in row order."""
    width = sums.shape[1]
    col = day - origin
    keep = keep & (col >= 0) & (col < width)
    flat = slot[keep] * width + col[keep]
    size = nodes.size * width
    total = np.bincount(flat, weights=value[keep], minlength=size)
    sums[nodes] = total.astype(np.float64, copy=False).reshape(nodes.size, width)
    has[nodes] = (np.bincount(flat, minlength=size) > 0).reshape(nodes.size, width)


def _canonical_order(node: NDArray[np.int64], table: UsageTable) -> NDArray[np.int64]:
    """Rows by node, day, metric, then value: float sums then ignore input order."""
    if node.size == 0:
        return np.zeros(0, dtype=np.int64)
    day = table.day - table.day.min()
    key = (node * (int(day.max()) + 1) + day) * max(
        len(table.metrics), 1
    ) + table.metric
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    shared = np.zeros(ordered.size, dtype=bool)
    shared[1:] = ordered[1:] == ordered[:-1]
    shared[:-1] |= shared[1:]
    # Only cells with several rows need their rows ordered by value.
    spots = np.flatnonzero(shared)
    rows = order[spots]
    order[spots] = rows[np.lexsort((table.value[rows], key[rows]))]
    return order
