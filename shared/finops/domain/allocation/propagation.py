"""Pushing costs through the graph: a full pass, and a pass over changed cells only."""

from __future__ import annotations

import heapq
import math
import threading
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from finops.domain.allocation.plans import ParentPlan
from finops.domain.allocation.rowsums import RowSums
from finops.domain.allocation.splitting import split_exactly, split_in_place
from finops.domain.allocation.twothreads import on_two_threads

__all__ = ["CostState", "full_pass", "propagate", "split_batch"]


# Cells (parents x parts x day-dimension cells) split at once: fast, small in memory.
# 2^18 (2 MiB a float array) splits 5,000 nodes x 360 cells ~10 % faster than 2^21
# (the temporaries stay nearer the cache) while keeping batches few.
_BATCH_CELLS = 1 << 18
# Engines with at most this many day-by-dimension cells per node (the stream's one-day
# engines) keep each batch's stacked shares between passes and restack only the plans
# that changed; a long range's would double the memory its plans take.
_KEEP_SHARES_CELLS = 64


@dataclass
class CostState:
    """Money of every node, day and dimension, in micro-units.

    direct and received: (nodes, days, dims); flows[p]: (k, days, dims) per parent
    index, rows in the order of the parent's plan. out: what each node passed on
    (the sum of its flows), kept by one-day engines (the stream's, which read it
    after every update), else None.
    """

    direct: NDArray[np.int64]
    received: NDArray[np.int64]
    plans: dict[int, ParentPlan]
    order: list[int]
    flows: dict[int, NDArray[np.int64]] = field(default_factory=dict)
    position: dict[int, int] = field(default_factory=dict)
    # full_pass's parent batches; they depend on the order and the plans' children
    # only, and are rebuilt after set_order (which every edge change calls first).
    batches: list[_Batch] | None = None
    out: NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        self.set_order(self.order)
        if self.cells <= _KEEP_SHARES_CELLS:
            self.out = np.zeros_like(self.direct)

    @property
    def cells(self) -> int:
        """Day-by-dimension cells per node."""
        return int(self.direct.shape[1] * self.direct.shape[2])

    def set_order(self, order: list[int]) -> None:
        """Adopt a new topological order (after an edge change)."""
        self.order = order
        self.position = {node: i for i, node in enumerate(order)}
        self.batches = None


def full_pass(state: CostState, executor: Executor | None = None) -> None:
    """Recompute every flow and every received amount, level by level.

    Parents on one topological level with the same out-degree are split together.
    executor, when given, splits every other batch of a level while this thread
    splits the rest (NumPy releases the GIL); each batch's receipts are added when
    it is split (integer sums: the same bits in any order).
    """
    state.received[:] = 0
    if state.out is not None:
        state.out[:] = 0
    received = state.received.reshape(len(state.received), -1)
    direct = state.direct.reshape(len(state.direct), -1)
    if state.batches is None:
        state.batches = [
            _Batch.of(parents, state, level) for level, parents in _batches(state)
        ]
    shape = state.direct.shape[1:]
    keep = state.cells <= _KEEP_SHARES_CELLS
    if executor is not None and not keep:
        _level_by_level(state, executor)
        return
    for batch in state.batches:
        parents = batch.parents
        holistic = direct[parents] + received[parents]
        if keep:
            shares = batch.shares(state.plans, keep=True)
            # (parents, k, cells): each parent's flows are a view of one block.
            flows = np.ascontiguousarray(
                split_batch(holistic, shares).transpose(1, 0, 2)
            )
            for parent, block in zip(parents, flows, strict=True):
                state.flows[parent] = block.reshape((-1, *shape))
            if state.out is not None:
                out = state.out.reshape(len(state.out), -1)
                out[parents] = flows.sum(axis=1)
            batch.receive(received, flows.reshape(len(batch.children), -1))
            continue
        # (k, parents, cells): shares written straight into the split's scratch,
        # and each parent's flows a (k, days, dims) view of the batch's parts.
        full = batch.full_shares(state.plans, shape)
        k = full.shape[0] - 1
        parts = split_in_place(holistic.reshape(-1), full.reshape(k + 1, -1))
        parts = parts.reshape(k + 1, len(parents), -1)[:k]
        for i, parent in enumerate(parents):
            state.flows[parent] = parts[:, i].reshape((k, *shape))
        if state.out is not None:
            state.out.reshape(len(state.out), -1)[parents] = parts.sum(axis=0)
        batch.receive(received, parts.reshape(k * len(parents), -1), by_part=True)


def _level_by_level(state: CostState, executor: Executor) -> None:
    """The full pass of long ranges, each level's batches split on two threads.

    Each thread adds a batch's receipts to `received` as soon as it has split it,
    one thread at a time (batches of a level share children): while one adds, the
    other splits. Sums of integers, they come to the same bits in any order; no
    parent of a level is a child of another of that level, so none of the rows the
    level reads is added to before the level ends."""
    received = state.received.reshape(len(state.received), -1)
    direct = state.direct.reshape(len(state.direct), -1)
    shape = state.direct.shape[1:]
    assert state.batches is not None
    adding = threading.Lock()

    def split(batch: _Batch) -> None:
        holistic = direct[batch.parents] + received[batch.parents]
        full = batch.full_shares(state.plans, shape)
        k = full.shape[0] - 1
        parts = split_in_place(holistic.reshape(-1), full.reshape(k + 1, -1))
        parts = parts.reshape(k + 1, len(batch.parents), -1)[:k]
        for i, parent in enumerate(batch.parents):
            state.flows[parent] = parts[:, i].reshape((k, *shape))
        rows = parts.reshape(k * len(batch.parents), -1)
        receipts = batch.receipts(rows, by_part=True)
        with adding:
            received[batch.targets] += receipts

    levels: dict[int, list[_Batch]] = {}
    for batch in state.batches:
        levels.setdefault(batch.level, []).append(batch)
    for level in sorted(levels):
        on_two_threads(split, levels[level], executor)


@dataclass
class _Batch:
    """Parents split together, and where their flows go (children sorted once)."""

    parents: list[int]
    children: NDArray[np.int64]
    targets: NDArray[np.int64]  # each distinct child, in sorted order
    by_parent: RowSums  # rows in parent order summed per target
    by_part: RowSums  # the same for rows numbered part by part
    level: (
        int  # topological level of its parents (batches of one level are independent)
    )
    # The plans whose shares `_stacked` holds, parent by parent (when kept).
    _plans: list[ParentPlan] = field(default_factory=list)
    _stacked: NDArray[np.float64] | None = None

    def shares(
        self, plans: dict[int, ParentPlan], *, keep: bool
    ) -> NDArray[np.float64]:
        """(k, parents, cells) shares of the batch's parents; kept, only the slices
        of plans replaced since the last pass are copied again (a plan is never
        changed in place)."""
        current = [plans[p] for p in self.parents]
        if not keep or self._stacked is None:
            stacked = np.stack([plan.share_cells(None) for plan in current], axis=1)
            self._plans, self._stacked = (current, stacked) if keep else ([], None)
            return stacked
        for i, (plan, old) in enumerate(zip(current, self._plans, strict=True)):
            if plan is not old:
                self._stacked[:, i] = plan.share_cells(None)
        self._plans = current
        return self._stacked

    def full_shares(
        self, plans: dict[int, ParentPlan], shape: tuple[int, ...]
    ) -> NDArray[np.float64]:
        """(k + 1, parents, cells) with each parent's shares in the first k rows
        (the last row is left for `split_in_place`); no plan caches its cells."""
        current = [plans[p] for p in self.parents]
        k = len(current[0].children)
        full = np.empty((k + 1, len(current), math.prod(shape)), dtype=np.float64)
        single = [i for i, plan in enumerate(current) if len(plan.config_rules) == 1]
        if len(shape) == 2 and single:
            # Parents with one config (every dimension has its days' shares): one
            # stack and one copy broadcast over the dimensions.
            days = np.stack([current[i].shares[:, :, 0] for i in single], axis=1)
            cells = full[:k].reshape((k, len(current), *shape))
            if single[-1] == len(single) - 1:  # the first ones, as `_batches` lists
                cells[:, : len(single)] = days[..., np.newaxis]
            else:  # a slice holds no GIL; a list of positions does
                cells[:, single] = days[..., np.newaxis]
            if len(single) == len(current):
                return full
        done = set(single) if len(shape) == 2 else set()
        for i, plan in enumerate(current):
            if i not in done:
                plan.write_cells(full[:k, i].reshape((k, *shape)))
        return full

    @classmethod
    def of(cls, parents: list[int], state: CostState, level: int) -> _Batch:
        children = np.concatenate([state.plans[p].children for p in parents])
        order = np.argsort(children, kind="stable")
        ranked = children[order]
        starts = np.flatnonzero(np.diff(ranked, prepend=-1) != 0)
        # The same rows numbered part by part (row j of parent i is j * P + i),
        # as `full_pass` lays out its parts; all parents of a batch have k parts.
        k = len(children) // len(parents)
        by_part = (order % k) * len(parents) + order // k
        return cls(
            parents,
            children,
            ranked[starts],
            RowSums.of(order, starts),
            RowSums.of(by_part, starts),
            level,
        )

    def receive(
        self,
        received: NDArray[np.int64],
        rows: NDArray[np.int64],
        *,
        by_part: bool = False,
    ) -> None:
        """Add each row to its child's receipts; a child may appear many times.

        rows are in parent order (each parent's k rows together), or by_part in
        part order (the first part of every parent, then the second …)."""
        received[self.targets] += self.receipts(rows, by_part=by_part)

    def receipts(
        self, rows: NDArray[np.int64], *, by_part: bool = False
    ) -> NDArray[np.int64]:
        """What each distinct child (`targets`) receives from the rows."""
        return (self.by_part if by_part else self.by_parent)(rows)


def split_batch(
    amounts: NDArray[np.int64], shares: NDArray[np.float64]
) -> NDArray[np.int64]:
    """split_exactly for a stack of parents: (P, n) amounts, (k, P, n) shares.

    Returns the (k, P, n) parts handed on (the retained rows are dropped).
    """
    k, count, n = shares.shape
    parts = split_exactly(amounts.reshape(-1), shares.reshape(k, count * n))
    return parts[:k].reshape(k, count, n)


def _batches(state: CostState) -> list[tuple[int, list[int]]]:
    """Parents grouped by topological level and out-degree, in bounded chunks (with
    their level)."""
    level: dict[int, int] = {}
    groups: dict[tuple[int, int], list[int]] = {}
    for node in state.order:
        plan = state.plans.get(node)
        if plan is None:
            continue
        depth = level.get(node, 0)
        for child in plan.children.tolist():
            level[child] = max(level.get(child, 0), depth + 1)
        groups.setdefault((depth, len(plan.children)), []).append(node)
    batches: list[tuple[int, list[int]]] = []
    for (depth, k), group in sorted(groups.items()):
        # Parents with one dimension config first (`full_shares` copies theirs
        # into a slice of its scratch; the order of a batch is free).
        parents = sorted(group, key=lambda p: len(state.plans[p].config_rules) > 1)
        step = max(1, _BATCH_CELLS // ((k + 1) * state.cells))
        batches.extend(
            (depth, parents[i : i + step]) for i in range(0, len(parents), step)
        )
    return batches


def propagate(
    state: CostState, seeds: dict[int, NDArray[np.bool_]]
) -> NDArray[np.bool_]:
    """Re-split the seeded cells of seeded nodes and everything downstream that changes.

    seeds: node -> flat bool mask over day-by-dimension cells. Returns the flat mask
    of cells where any node's cost or flow was recomputed.
    """
    position = state.position
    dirty = {node: mask.copy() for node, mask in seeds.items()}
    heap = [(position[node], node) for node in dirty]
    heapq.heapify(heap)
    touched = np.zeros(state.cells, dtype=bool)
    while heap:
        _, node = heapq.heappop(heap)
        mask = dirty.pop(node)
        touched |= mask
        for child, child_cells in _resplit(state, node, np.flatnonzero(mask)):
            if child not in dirty:
                dirty[child] = np.zeros(state.cells, dtype=bool)
                heapq.heappush(heap, (position[child], child))
            dirty[child][child_cells] = True
    return touched


def _resplit(
    state: CostState, node: int, cells: NDArray[np.int64]
) -> list[tuple[int, NDArray[np.int64]]]:
    """Re-split one node on some cells; returns the children whose receipts changed."""
    plan = state.plans.get(node)
    if plan is None or cells.size == 0:
        return []
    received = state.received.reshape(len(state.received), -1)
    holistic = state.direct[node].ravel()[cells] + received[node, cells]
    parts = split_exactly(holistic, plan.share_cells(cells))[:-1]
    flows = state.flows[node].reshape(len(plan.children), -1)
    delta = parts - flows[:, cells]
    flows[:, cells] = parts
    if state.out is not None:
        state.out.reshape(len(state.out), -1)[node, cells] += delta.sum(axis=0)
    changed: list[tuple[int, NDArray[np.int64]]] = []
    for row in np.flatnonzero(delta.any(axis=1)):
        child = int(plan.children[row])
        received[child, cells] += delta[row]
        changed.append((child, cells[delta[row] != 0]))
    return changed
