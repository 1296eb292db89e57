"""Offline normalisation: bill files to one node-cost table and a rejects list."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from finops.domain.focus.aggregate import CostTotals, round_provider_totals
from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.normalize import NormalizedBatch, normalize_file
from finops.domain.focus.readers import Progress
from finops.domain.focus.rejects import Reject
from finops.errors import InputError

__all__ = ["FileCounts", "NormalizeResult", "check_files", "normalize_paths"]

# Called once per file with its path; returns that file's progress callback.
ProgressFactory = Callable[[Path], Progress | None]


@dataclass(frozen=True, slots=True)
class FileCounts:
    """Rows read, accepted and rejected in one file, and its layout."""

    file: str
    layout: str
    rows_read: int
    rows_rejected: int
    provider_totals: dict[str, int] = field(default_factory=dict)
    absent_columns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NormalizeResult:
    """Node costs of all files (summed), the rejects, and counts per file."""

    costs: pa.Table
    rejects: list[Reject] = field(default_factory=list)
    files: list[FileCounts] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        """Rows read over all files."""
        return sum(f.rows_read for f in self.files)

    def provider_totals(self) -> dict[str, int]:
        """Accepted cost per provider over all files (micro-units)."""
        totals: Counter[str] = Counter()
        for counts in self.files:
            totals.update(counts.provider_totals)
        return dict(sorted(totals.items()))


def check_files(paths: Sequence[Path]) -> None:
    """Refuse a missing input before any work starts."""
    for path in paths:
        if not path.is_file():
            raise InputError("no such file", file=str(path))


def normalize_paths(
    paths: Sequence[Path],
    rules: MappingRules,
    *,
    profile: str | None = None,
    bill_format: str = "auto",
    progress: ProgressFactory | None = None,
) -> NormalizeResult:
    """Normalise every file and sum the node costs; any unknown layout fails the run."""
    check_files(paths)
    totals = CostTotals()
    rejects: list[Reject] = []
    files: list[FileCounts] = []
    for path in paths:
        on_progress = progress(path) if progress is not None else None
        batches = normalize_file(
            path,
            rules,
            profile=profile,
            bill_format=bill_format,
            on_progress=on_progress,
        )
        files.append(_consume(batches, totals, rejects, str(path)))
    return NormalizeResult(totals.result(), rejects, files)


def _consume(
    batches: Iterable[NormalizedBatch],
    totals: CostTotals,
    rejects: list[Reject],
    file: str,
) -> FileCounts:
    """Add a file's batches to the totals and rejects; return its counts."""
    read = rejected = 0
    layout = ""
    providers: Counter[str] = Counter()
    picos: Counter[str] = Counter()
    absent: tuple[str, ...] = ()
    for batch in batches:
        totals.add(batch.unit_costs)
        rejects.extend(batch.rejects)
        read, rejected = read + batch.rows_read, rejected + len(batch.rejects)
        layout = batch.layout
        providers.update(batch.provider_totals)
        picos.update(batch.provider_picos)
        absent = batch.absent_columns
    exact = round_provider_totals(providers, picos)
    return FileCounts(file, layout, read, rejected, exact, absent)
