"""The shares a date's flows are derived from, as rows for the store (pure).

PostgreSQL derives a flow as split_exactly(the parent's holistic, its shares)
(deploy/migrations/0070_derived_flows.sql, docs/decisions/0240-flows-derived-in-sql.md).
A parent's shares change only when its plan is replaced (usage or the graph: plans
are never changed in place), so with a date's node rows go the share rows of the
parents whose plan is not the one last stored (and differs from it: a rebuilt
engine's equal plans write nothing), or of every parent when the write replaces the
date whole. Each parent has one row per child (position 0..parts-1)
and a last row, position = parts with to_node and strategy '', holding the retained
share as the engine computes it.
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
    if not known or old is None or old.graph is not new.graph:
        return ShareRows(complete=True, rows=_encode(new, new.plans))
    changed = {
        p: plan for p, plan in new.plans.items() if not _same(old.plans.get(p), plan)
    }
    gone = set(old.plans) - set(new.plans)
    if not changed and not gone:
        return NO_SHARES
    names = [new.graph.ids[p] for p in sorted({*changed, *gone})]
    return ShareRows(False, names, _encode(new, changed) if changed else None)


def _same(old: ParentPlan | None, new: ParentPlan) -> bool:
    """The same plan object, or one with the same children, shares and strategies
    (a rebuilt engine's, or usage that moved no share)."""
    if old is new:
        return True
    return (
        old is not None
        and np.array_equal(old.children, new.children)
        and np.array_equal(old.dim_config, new.dim_config)
        and np.array_equal(old.shares, new.shares)
        and np.array_equal(strategy_codes(old), strategy_codes(new))
    )


def _encode(frame: ResultFrame, plans: dict[int, ParentPlan]) -> CopyRows:
    """Every share row of these parents' plans, in binary COPY format."""
    n_nodes, n_dims = len(frame.graph.ids), len(frame.dimensions)
    pieces = [_parent_rows(p, plan, n_nodes, n_dims) for p, plan in plans.items()]
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


def _parent_rows(
    parent: int, plan: ParentPlan, n_nodes: int, n_dims: int
) -> tuple[NDArray[np.int64] | NDArray[np.float64], ...]:
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
