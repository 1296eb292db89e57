"""The shares a date's flows are derived from, as rows for the store (pure).

PostgreSQL derives a flow as split_exactly(the parent's holistic, its shares)
(deploy/migrations/0070_derived_flows.sql, docs/decisions/0240-flows-derived-in-sql.md).
A parent's shares change only when its plan is replaced (usage or the graph: plans
are never changed in place), so with a date's node rows go the share rows of the
parents whose plan is not the one last stored: of a plan with the same children
the whole set of each dimension where a share, the retained share or a strategy
changed (the store keeps one row per date, parent and dimension: migration 0080),
of another every row (the parent's old sets deleted first); of every parent when the
write replaces the date whole. A set is one row per child (position 0..parts-1) and
a last row, position = parts with to_node and strategy '', holding the retained
share as the engine computes it; the store gathers them into one row.

The dimensions of one config of a plan (no override tells them apart) have the same
set: it is stored once, under the config's first dimension, with the list of its
dimensions (migration 0090, decision 0400). Each row carries its set's group: a bit
mask of the dimensions (by index) sharing the config, or -1 - d for dimension d alone
when there are too many dimensions for a mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from allocator.pgcopy.format import CopyRows
from allocator.pgcopy.sets import SET_COLUMNS, TextPool, encode_share_sets
from finops.domain.allocation.frames import ResultFrame
from finops.domain.allocation.plans import ParentPlan
from finops.domain.allocation.readout import STRATEGY_NAMES, strategy_codes
from finops.domain.allocation.splitting import retained_shares
from finops.domain.dag import CostGraph

__all__ = ["SHARE_COLUMNS", "ShareRows", "share_rows"]

# tmp_share_sets' columns, in the order encode_share_sets lays them out.
SHARE_COLUMNS = SET_COLUMNS
_STRATEGY_TEXTS = [*STRATEGY_NAMES, ""]
_NO_STRATEGY = len(STRATEGY_NAMES)


@dataclass(frozen=True)
class ShareRows:
    """Share rows to store with a date's node rows: with `complete`, the date's
    stored shares are all replaced; else those of the parents in `parents` (their
    old rows deleted, `rows` inserted)."""

    complete: bool
    parents: list[str] = field(default_factory=list)
    rows: CopyRows | None = None

    @property
    def is_empty(self) -> bool:
        """True when no stored share changes."""
        return not (self.complete or self.parents)

    def __len__(self) -> int:
        return len(self.rows or ())


NO_SHARES = ShareRows(complete=False)
# parent, child, dimension, position, strategy codes, share, group
_Columns = tuple[NDArray[np.int64] | NDArray[np.float64], ...]
_MASK_DIMENSIONS = 62  # up to this many dimensions, a group is a bit mask


def share_rows(
    old: ResultFrame | None, new: ResultFrame | None, *, known: bool
) -> ShareRows:
    """The share rows that make the stored shares those of `new` (None: the date
    has no results), when what is stored is `old`'s (`known`) or unknown; frames of
    one-day engines."""
    if known and old is None and new is None:
        return NO_SHARES  # nothing stored, nothing to store
    if new is None:
        return ShareRows(complete=True)
    n_nodes, n_dims = len(new.graph.ids), len(new.dimensions)
    if not known or old is None or old.graph is not new.graph:
        plans = new.plans.items()
        pieces = [_parent_rows(p, plan, n_nodes, n_dims) for p, plan in plans]
        return ShareRows(complete=True, rows=_encode(new, pieces))
    pairs = [(p, old.plans.get(p), plan) for p, plan in new.plans.items()]
    pairs = [(p, b, n) for p, b, n in pairs if b is not n]
    alike = [pair for pair in pairs if _alike(pair)]
    piece, reshaped = _moved_in_place(alike, n_nodes, n_dims)
    pieces = [piece] if piece[0].size else []
    replaced: list[int] = []
    for p, before, plan in [*(x for x in pairs if not _alike(x)), *reshaped]:
        if before is not None and _same_rows(before, plan):  # other strategies
            piece = _moved_sets(p, before, plan, n_nodes, n_dims)
        else:
            replaced.append(p)
            piece = _parent_rows(p, plan, n_nodes, n_dims)
        if piece[0].size:
            pieces.append(piece)
    deleted = sorted({*replaced, *(set(old.plans) - set(new.plans))})
    if not pieces and not deleted:
        return NO_SHARES
    names = [new.graph.ids[p] for p in deleted]
    return ShareRows(False, names, _encode(new, pieces) if pieces else None)


_Pair = tuple[int, ParentPlan | None, ParentPlan]


def _alike(pair: _Pair) -> bool:
    """A stored plan with the same rules and as many children (a usage change
    rebuilt it): compared with the others at once."""
    _, before, plan = pair
    return (
        before is not None
        and before.config_rules is plan.config_rules
        and len(before.children) == len(plan.children)
    )


def _moved_in_place(
    pairs: list[_Pair], n_nodes: int, n_dims: int
) -> tuple[_Columns, list[_Pair]]:
    """Of plans alike their stored ones (`_alike`): the whole sets (every child and
    the retained share) of each dimension where a share moved, built for every plan
    at once (a usage change rebuilds a thousand plans of a date, most unmoved, and
    per-plan NumPy calls cost more than the rest of the pass); and the pairs whose
    children or configs changed (their rows do not line up: written anew)."""
    if not pairs:
        return _no_rows(), []
    stored = [b for _, b, _ in pairs if b is not None]
    plans = [n for _, _, n in pairs]
    sizes = np.fromiter((len(n.children) for n in plans), np.int64, len(plans))
    children = np.concatenate([n.children for n in plans])
    was_children = np.concatenate([b.children for b in stored])
    reshaped = _segments_any(was_children != children, sizes)
    configs = np.stack([n.dim_config for n in plans])
    reshaped |= (np.stack([b.dim_config for b in stored]) != configs).any(axis=1)
    now = np.concatenate([n.share_cells(None) for n in plans])  # (rows, dims)
    if now.shape[1] != n_dims:
        raise ValueError("share rows are made from one-day frames")
    moved_cells = np.concatenate([b.share_cells(None) for b in stored]) != now
    # A set's retained share follows its shares: it moves only if one of them moved.
    ends = np.cumsum(sizes)
    starts = ends - sizes
    moved = _segments_any(moved_cells, sizes)  # (plans, dims)
    moved[reshaped] = False
    owner = np.repeat(np.arange(len(plans)), sizes)  # each row's plan
    rows, dims = np.nonzero(moved[owner])
    sets, set_dims = np.nonzero(moved)
    codes = np.zeros((len(now), n_dims), dtype=np.int64)
    retained = np.zeros((len(plans), n_dims), dtype=np.float64)
    for i in np.flatnonzero(moved.any(axis=1)).tolist():
        plan = plans[i]
        codes[starts[i] : ends[i]] = _codes(plan)[plan.dim_config].T
        retained[i] = retained_shares(plan.share_cells(None))
    parents = np.fromiter((p for p, _, _ in pairs), np.int64, len(pairs))
    no_strategy = np.full(sets.size, _NO_STRATEGY, dtype=np.int64)
    groups = _groups(configs)  # (plans, dims)
    columns = (
        np.concatenate([parents[owner[rows]], parents[sets]]),
        np.concatenate([children[rows], np.full(sets.size, n_nodes, np.int64)]),
        np.concatenate([dims, set_dims]).astype(np.int64, copy=False),
        np.concatenate([rows - starts[owner[rows]], sizes[sets]]),
        np.concatenate([codes[rows, dims], no_strategy]),
        np.concatenate([now[rows, dims], retained[sets, set_dims]]),
        np.concatenate([groups[owner[rows], dims], groups[sets, set_dims]]),
    )
    return columns, [pairs[i] for i in np.flatnonzero(reshaped).tolist()]


def _groups(configs: NDArray[np.int64]) -> NDArray[np.int64]:
    """Per plan (a row of `configs`: each dimension's config) and dimension, its
    set's group: the bit mask of the dimensions with the same config, or -1 - d when
    there are too many dimensions for a mask (each set then stands alone)."""
    n_dims = configs.shape[1]
    if n_dims > _MASK_DIMENSIONS:
        return np.broadcast_to(-1 - np.arange(n_dims, dtype=np.int64), configs.shape)
    same = configs[:, :, np.newaxis] == configs[:, np.newaxis, :]
    bits = np.left_shift(1, np.arange(n_dims, dtype=np.int64))
    groups: NDArray[np.int64] = same @ bits
    return groups


def _no_rows() -> _Columns:
    empty = np.zeros(0, dtype=np.int64)
    return (empty, empty, empty, empty, empty, np.zeros(0, dtype=np.float64), empty)


def _segments_any(
    flags: NDArray[np.bool_], sizes: NDArray[np.int64]
) -> NDArray[np.bool_]:
    """Whether any flag is set in each consecutive segment (of rows, along the first
    axis) of the given sizes, per column for 2-D flags."""
    ends = np.cumsum(sizes)
    counts = np.zeros((len(flags) + 1, *flags.shape[1:]), dtype=np.int64)
    np.cumsum(flags, axis=0, dtype=np.int64, out=counts[1:])
    any_set: NDArray[np.bool_] = (counts[ends] - counts[ends - sizes]) > 0
    return any_set


def _same_rows(old: ParentPlan, new: ParentPlan) -> bool:
    """Plans whose rows line up one to one (same children, same configs)."""
    return np.array_equal(old.children, new.children) and np.array_equal(
        old.dim_config, new.dim_config
    )


def _moved_sets(
    parent: int, old: ParentPlan, new: ParentPlan, n_nodes: int, n_dims: int
) -> _Columns:
    """Of a plan whose rows line up with the stored one's but whose rules are other
    objects: the whole sets of the dimensions where a share, the retained share or a
    strategy differs (the store replaces a parent's set of a dimension whole)."""
    before = _parent_rows(parent, old, n_nodes, n_dims)
    after = _parent_rows(parent, new, n_nodes, n_dims)
    changed = (before[5] != after[5]) | (before[4] != after[4])
    moved = changed.reshape(-1, n_dims).any(axis=0)
    rows = np.tile(moved, len(new.children) + 1)  # rows run position by position
    return tuple(column[rows] for column in after)


_CODES: dict[int, tuple[object, NDArray[np.int64]]] = {}  # per config_rules object


def _codes(plan: ParentPlan) -> NDArray[np.int64]:
    """strategy_codes(plan), kept per config_rules object (usage keeps it)."""
    kept = _CODES.get(id(plan.config_rules))
    if kept is None or kept[0] is not plan.config_rules:
        if len(_CODES) >= 50_000:
            _CODES.clear()
        kept = _CODES[id(plan.config_rules)] = (plan.config_rules, strategy_codes(plan))
    return kept[1]


def _encode(frame: ResultFrame, pieces: list[_Columns]) -> CopyRows:
    """Whole sets (pieces of row columns) in binary COPY format, a row per set and
    group: only the rows of each group's first dimension are kept (the others are
    the same set)."""
    columns = [np.concatenate(c) for c in zip(*pieces, strict=True)]
    group = columns[6].astype(np.int64, copy=False)
    first = (group < 0) | ((group & -group) == np.left_shift(1, columns[2]))
    if not first.all():
        columns = [c[first] for c in columns]
        group = group[first]
    parent, child, dimension, position, strategy, share, _ = columns
    texts = (_node_texts(frame.graph), _dim_texts(frame.dimensions), _STRATEGIES)
    return encode_share_sets(
        (parent, child, dimension, position, strategy, group),
        share.astype(np.float64, copy=False),
        texts,
        frame.dimensions,
    )


def _parent_rows(parent: int, plan: ParentPlan, n_nodes: int, n_dims: int) -> _Columns:
    """One parent's rows, (parts + 1) x dimensions: parent, child, dimension,
    position, strategy codes and the share (retained last)."""
    k = len(plan.children)
    shares = plan.share_cells(None)  # (k, dims): one day
    if shares.shape[1] != n_dims:
        raise ValueError("share rows are made from one-day frames")
    full = np.concatenate([shares, retained_shares(shares)[np.newaxis, :]])
    codes = _codes(plan)[plan.dim_config].T  # (k, dims)
    strategy = np.concatenate([codes, np.full((1, n_dims), _NO_STRATEGY)])
    children = np.append(plan.children, n_nodes)  # n_nodes: the text ''
    rows = (k + 1) * n_dims
    return (
        np.full(rows, parent, dtype=np.int64),
        np.repeat(children, n_dims).astype(np.int64, copy=False),
        np.tile(np.arange(n_dims, dtype=np.int64), k + 1),
        np.repeat(np.arange(k + 1, dtype=np.int64), n_dims),
        strategy.astype(np.int64, copy=False).ravel(),
        full.ravel(),
        np.tile(_groups(plan.dim_config[np.newaxis, :])[0], k + 1),
    )


_STRATEGIES = TextPool(_STRATEGY_TEXTS)
_NODE_TEXTS: dict[int, tuple[CostGraph, TextPool]] = {}  # the latest graphs'
_DIM_TEXTS: dict[tuple[str, ...], TextPool] = {}


def _node_texts(graph: CostGraph) -> TextPool:
    """Node ids, and '' after them (the retained row's code, never encoded)."""
    kept = _NODE_TEXTS.get(id(graph))
    if kept is None or kept[0] is not graph:
        if len(_NODE_TEXTS) >= 2:
            _NODE_TEXTS.clear()
        kept = _NODE_TEXTS[id(graph)] = (graph, TextPool([*graph.ids, ""]))
    return kept[1]


def _dim_texts(dimensions: tuple[str, ...]) -> TextPool:
    texts = _DIM_TEXTS.get(dimensions)
    if texts is None:
        if len(_DIM_TEXTS) >= 8:
            _DIM_TEXTS.clear()
        texts = _DIM_TEXTS[dimensions] = TextPool(dimensions)
    return texts
