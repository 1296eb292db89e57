"""The shares a date's flows are derived from, as rows for the store (pure).

PostgreSQL derives a flow as split_exactly(the parent's holistic, its shares)
(deploy/migrations/0070_derived_flows.sql, docs/decisions/0240-flows-derived-in-sql.md).
A parent's shares change only when its plan is replaced (usage or the graph: plans
are never changed in place), so with a date's node rows go the share rows of the
parents whose plan is not the one last stored: of a plan with the same children
only the rows whose share or strategy changed (upserted; a usage change moves a few
shares of a big parent), of another every row (the parent's old rows deleted first);
of every parent when the write replaces the date whole. Each parent has one row per
child (position 0..parts-1) and a last row, position = parts with to_node and
strategy '', holding the retained share as the engine computes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from allocator.pgcopy.flows import encode_flow_arrays
from allocator.pgcopy.format import CopyRows, TextCodes
from finops.domain.allocation.frames import ResultFrame
from finops.domain.allocation.plans import ParentPlan
from finops.domain.allocation.readout import STRATEGY_NAMES, strategy_codes
from finops.domain.allocation.splitting import retained_shares
from finops.domain.dag import CostGraph

__all__ = ["SHARE_COLUMNS", "ShareRows", "share_rows"]

# tmp_shares' columns, in the order encode_flow_arrays lays them out.
SHARE_COLUMNS = ("from_node", "to_node", "dimension", "position", "strategy", "share")
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
# parent, child, dimension, position, strategy codes; share
_Columns = tuple[NDArray[np.int64] | NDArray[np.float64], ...]


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
    replaced: list[int] = []
    pieces = []
    pairs = [(p, old.plans.get(p), plan) for p, plan in new.plans.items()]
    pairs = [(p, b, n) for p, b, n in pairs if b is not n]
    for (p, before, plan), still in zip(pairs, _unmoved(pairs), strict=True):
        if still:  # replaced by an equal plan (most plans a usage change rebuilds)
            continue
        if before is not None and _same_rows(before, plan):
            piece = _changed_rows(p, before, plan, n_nodes, n_dims)
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


def _unmoved(pairs: list[_Pair]) -> list[bool]:
    """For each (parent, stored plan, new plan): True when the new plan has the
    same children, configs, rules and shares, so no stored share row changes.
    Compared all at once: a usage change rebuilds a thousand plans of a date, and
    one NumPy comparison per plan costs more than the rest of the pass."""
    alike = [
        b is not None
        and b.config_rules is n.config_rules
        and len(b.children) == len(n.children)
        for _, b, n in pairs
    ]
    same = [(b, n) for (_, b, n), a in zip(pairs, alike, strict=True) if a]
    if not same:
        return alike
    sizes = np.fromiter((len(n.children) for _, n in same), np.int64, len(same))
    moved = _segments_any(
        np.concatenate([b.children for b, _ in same])  # type: ignore[union-attr]
        != np.concatenate([n.children for _, n in same]),
        sizes,
    )
    moved |= _segments_any(
        (
            np.concatenate([b.share_cells(None) for b, _ in same])  # type: ignore[union-attr]
            != np.concatenate([n.share_cells(None) for _, n in same])
        ).any(axis=1),
        sizes,
    )
    moved |= (
        np.stack([b.dim_config for b, _ in same])  # type: ignore[union-attr]
        != np.stack([n.dim_config for _, n in same])
    ).any(axis=1)
    still = iter((~moved).tolist())
    return [a and next(still) for a in alike]


def _segments_any(
    flags: NDArray[np.bool_], sizes: NDArray[np.int64]
) -> NDArray[np.bool_]:
    """Whether any flag is set in each consecutive segment of the given sizes."""
    ends = np.cumsum(sizes)
    counts = np.concatenate([[0], np.cumsum(flags, dtype=np.int64)])
    any_set: NDArray[np.bool_] = (counts[ends] - counts[ends - sizes]) > 0
    return any_set


def _same_rows(old: ParentPlan, new: ParentPlan) -> bool:
    """Plans whose rows line up one to one (same children, same configs)."""
    return np.array_equal(old.children, new.children) and np.array_equal(
        old.dim_config, new.dim_config
    )


def _changed_rows(
    parent: int, old: ParentPlan, new: ParentPlan, n_nodes: int, n_dims: int
) -> _Columns:
    """The rows of `new` whose share (the retained one too) or strategy differ from
    `old`'s: a usage change moves a few of a big parent's shares, and only those
    rows are built."""
    if old.config_rules is not new.config_rules:  # strategies may differ: compare all
        before = _parent_rows(parent, old, n_nodes, n_dims)
        after = _parent_rows(parent, new, n_nodes, n_dims)
        changed = (before[5] != after[5]) | (before[4] != after[4])
        return tuple(column[changed] for column in after)
    was, now = old.share_cells(None), new.share_cells(None)  # (k, dims), one day
    rows, dims = np.nonzero(was != now)  # some moved: _unmoved let it through
    kept = np.flatnonzero(retained_shares(was) != (retained := retained_shares(now)))
    k = len(new.children)
    codes = _codes(new)[new.dim_config[dims], rows]
    return (
        np.full(rows.size + kept.size, parent, dtype=np.int64),
        np.concatenate([new.children[rows], np.full(kept.size, n_nodes)]).astype(
            np.int64, copy=False
        ),
        np.concatenate([dims, kept]).astype(np.int64, copy=False),
        np.concatenate([rows, np.full(kept.size, k)]).astype(np.int64, copy=False),
        np.concatenate([codes, np.full(kept.size, _NO_STRATEGY)]).astype(
            np.int64, copy=False
        ),
        np.concatenate([now[rows, dims], retained[kept]]),
    )


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
    """Share rows (pieces of columns) in binary COPY format."""
    columns = [np.concatenate(c) for c in zip(*pieces, strict=True)]
    parent, child, dimension, position, strategy, share = columns
    texts = (_node_texts(frame.graph), _dim_texts(frame.dimensions), _STRATEGIES)
    return encode_flow_arrays(
        (parent, child, dimension, strategy),
        position,
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
    codes = strategy_codes(plan)[plan.dim_config].T  # (k, dims)
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
    )


_STRATEGIES = TextCodes(_STRATEGY_TEXTS)
_NODE_TEXTS: dict[int, tuple[CostGraph, TextCodes]] = {}  # the latest graphs'
_DIM_TEXTS: dict[tuple[str, ...], TextCodes] = {}


def _node_texts(graph: CostGraph) -> TextCodes:
    """Node ids, and '' after them (the retained row's to_node)."""
    kept = _NODE_TEXTS.get(id(graph))
    if kept is None or kept[0] is not graph:
        if len(_NODE_TEXTS) >= 2:
            _NODE_TEXTS.clear()
        kept = _NODE_TEXTS[id(graph)] = (graph, TextCodes([*graph.ids, ""]))
    return kept[1]


def _dim_texts(dimensions: tuple[str, ...]) -> TextCodes:
    texts = _DIM_TEXTS.get(dimensions)
    if texts is None:
        if len(_DIM_TEXTS) >= 8:
            _DIM_TEXTS.clear()
        texts = _DIM_TEXTS[dimensions] = TextCodes(dimensions)
    return texts
