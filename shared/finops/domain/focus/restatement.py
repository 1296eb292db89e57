"""Restatement: a delivery replaces what its source said for each billing period."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Generic, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "Delivery",
    "PartitionKey",
    "RestatementPlan",
    "Statement",
    "apply_delivery",
    "partitions_of",
    "plan_delivery",
]

# (source, first day of the billing period): the unit a re-delivery replaces.
PartitionKey = tuple[str, date]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Statement(Generic[T]):
    """What a source said for one billing period: the file it came in and its lines."""

    content_hash: str
    lines: Mapping[str, T] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Delivery(Generic[T]):
    """One delivered file: its content hash and its lines per partition."""

    content_hash: str
    partitions: Mapping[PartitionKey, Mapping[str, T]]


@dataclass(frozen=True, slots=True)
class RestatementPlan:
    """What the store does with a delivery, partition by partition."""

    replace: tuple[PartitionKey, ...]
    unchanged: tuple[PartitionKey, ...]

    @property
    def is_duplicate(self) -> bool:
        """Whether the delivery changes nothing (the same file again)."""
        return not self.replace


def plan_delivery(
    held: Mapping[PartitionKey, str],
    content_hash: str,
    partitions: Iterable[PartitionKey],
) -> RestatementPlan:
    """Partitions to replace (delete then insert) and those already stated by this file.

    `held` maps each stored partition to the content hash of the file that stated it.
    """
    keys = sorted(set(partitions))
    unchanged = tuple(k for k in keys if held.get(k) == content_hash)
    replace = tuple(k for k in keys if held.get(k) != content_hash)
    return RestatementPlan(replace=replace, unchanged=unchanged)


def apply_delivery(
    state: Mapping[PartitionKey, Statement[T]], delivery: Delivery[T]
) -> dict[PartitionKey, Statement[T]]:
    """The state after a delivery: its partitions replaced whole, the others kept."""
    held = {key: s.content_hash for key, s in state.items()}
    plan = plan_delivery(held, delivery.content_hash, delivery.partitions)
    updated = dict(state)
    for key in plan.replace:
        updated[key] = Statement(delivery.content_hash, dict(delivery.partitions[key]))
    return updated


def partitions_of(lines: pa.Table) -> set[PartitionKey]:
    """The (source, billing period) partitions a normalised line table states."""
    if lines.num_rows == 0:
        return set()
    days = pc.cast(lines.column("billing_period_start"), pa.date32())
    pairs = pa.table({"source": lines.column("source"), "period": days})
    unique = pairs.group_by(["source", "period"], use_threads=False).aggregate([])
    return set(
        zip(unique["source"].to_pylist(), unique["period"].to_pylist(), strict=True)
    )
