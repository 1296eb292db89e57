"""Offline normalisation: bill files to one node-cost table and a rejects list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from finops.errors import InputError
from finops.focus.aggregate import CostTotals
from finops.focus.mapping import MappingRules
from finops.focus.normalize import normalize_file
from finops.focus.readers import Progress
from finops.focus.rejects import Reject

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
    progress: ProgressFactory | None = None,
) -> NormalizeResult:
    """Normalise every file and sum the node costs; any unknown layout fails the run."""
    check_files(paths)
    totals, rejects, files = CostTotals(), list[Reject](), list[FileCounts]()
    for path in paths:
        on_progress = progress(path) if progress is not None else None
        read = rejected = 0
        layout = ""
        for batch in normalize_file(
            path, rules, profile=profile, on_progress=on_progress
        ):
            totals.add(batch.costs)
            rejects.extend(batch.rejects)
            read, rejected = read + batch.rows_read, rejected + len(batch.rejects)
            layout = batch.layout
        files.append(FileCounts(str(path), layout, read, rejected))
    return NormalizeResult(totals.result(), rejects, files)
