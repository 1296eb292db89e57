"""Columnar inputs of the engine: direct costs and usage rows, indexed by graph node."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from finops.errors import InputError

if TYPE_CHECKING:  # the pydantic record models are imported where records are read
    from finops.domain.records import NodeCost, UsageRecord

__all__ = ["CostTable", "UsageTable", "to_day_numbers"]

_EPOCH = date(1970, 1, 1)


def to_day_numbers(days: Iterable[date]) -> NDArray[np.int64]:
    """Days since 1970-01-01, as used by every day column here."""
    return np.array([(d - _EPOCH).days for d in days], dtype=np.int64)


@dataclass(frozen=True)
class CostTable:
    """Direct costs, one row per node, day and dimension (amounts already summed)."""

    node: NDArray[np.int64]
    day: NDArray[np.int64]
    dimension: NDArray[np.int64]
    micros: NDArray[np.int64]
    node_ids: Sequence[str]
    dimensions: Sequence[str]

    @classmethod
    def from_records(cls, records: Iterable[NodeCost]) -> CostTable:
        """Sum records per node, day and dimension (exact integers)."""
        totals: dict[tuple[str, date, str], int] = {}
        for rec in records:
            key = (rec.node, rec.date, rec.dimension)
            totals[key] = totals.get(key, 0) + rec.amount_micros
        node_ids = sorted({k[0] for k in totals})
        dims = sorted({k[2] for k in totals})
        nix = {n: i for i, n in enumerate(node_ids)}
        dix = {d: i for i, d in enumerate(dims)}
        return cls(
            node=np.array([nix[k[0]] for k in totals], dtype=np.int64),
            day=to_day_numbers(k[1] for k in totals),
            dimension=np.array([dix[k[2]] for k in totals], dtype=np.int64),
            micros=np.array(list(totals.values()), dtype=np.int64),
            node_ids=node_ids,
            dimensions=dims,
        )


@dataclass(frozen=True)
class UsageTable:
    """Usage rows; labels are stored once per distinct label set."""

    node: NDArray[np.int64]
    day: NDArray[np.int64]
    metric: NDArray[np.int64]
    value: NDArray[np.float64]
    label: NDArray[np.int64]
    node_ids: Sequence[str]
    metrics: Sequence[str]
    label_sets: Sequence[dict[str, Any]] = field(default_factory=lambda: [{}])

    @classmethod
    def empty(cls) -> UsageTable:
        """No usage at all."""
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none, none, np.zeros(0), none, [], [], [{}])

    @classmethod
    def from_records(cls, records: Iterable[UsageRecord]) -> UsageTable:
        """Columns from usage records; negative values are rejected."""
        rows = list(records)
        node_ids = sorted({r.node for r in rows})
        metrics = sorted({r.metric for r in rows})
        label_keys: dict[str, int] = {}
        label_sets: list[dict[str, Any]] = []
        for r in rows:
            if r.value < 0 or not np.isfinite(r.value):
                raise InputError(f"usage of {r.node} on {r.date}: bad value {r.value}")
            key = repr(sorted(r.labels.items()))
            if key not in label_keys:
                label_keys[key] = len(label_sets)
                label_sets.append(dict(r.labels))
        nix = {n: i for i, n in enumerate(node_ids)}
        mix = {m: i for i, m in enumerate(metrics)}
        return cls(
            node=np.array([nix[r.node] for r in rows], dtype=np.int64),
            day=to_day_numbers(r.date for r in rows),
            metric=np.array([mix[r.metric] for r in rows], dtype=np.int64),
            value=np.array([r.value for r in rows], dtype=np.float64),
            label=np.array(
                [label_keys[repr(sorted(r.labels.items()))] for r in rows],
                dtype=np.int64,
            ),
            node_ids=node_ids,
            metrics=metrics,
            label_sets=label_sets or [{}],
        )
