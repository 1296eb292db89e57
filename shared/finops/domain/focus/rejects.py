"""Rejected rows: file, line (the header is line 1) and reason; a CSV report."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from finops.domain.identifiers import CONTROL_CHARACTERS

__all__ = [
    "REJECT_COLUMNS",
    "Check",
    "Reject",
    "collect_rejects",
    "holds_control_characters",
    "write_rejects",
]

REJECT_COLUMNS: Final = ("file", "line", "reason")


class Reject(NamedTuple):
    """One row that could not be ingested."""

    file: str
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class Check:
    """One rejection reason over a batch: which rows fail and the value shown."""

    reason: str
    failed: NDArray[np.bool_]
    values: pa.Array | None = None


def holds_control_characters(values: pa.Array) -> NDArray[np.bool_]:
    """Which values hold a control character (never part of an identifier)."""
    found = pc.match_substring_regex(values, CONTROL_CHARACTERS)
    return np.asarray(pc.fill_null(found, False), dtype=np.bool_)


def collect_rejects(
    file: str, lines: NDArray[np.int64], checks: Iterable[Check]
) -> tuple[NDArray[np.bool_], list[Reject]]:
    """Rows failing any check, and one Reject per such row (its first failed check)."""
    rejected = np.zeros(len(lines), dtype=np.bool_)
    found: list[Reject] = []
    for check in checks:
        fresh = check.failed & ~rejected
        for i in np.flatnonzero(fresh):
            shown = "" if check.values is None else f": {check.values[i].as_py()!r}"
            found.append(Reject(file, int(lines[i]), check.reason + shown))
        rejected |= fresh
    found.sort(key=lambda r: r.line)
    return rejected, found


def write_rejects(rejects: Iterable[Reject], path: Path) -> int:
    """Write a `file,line,reason` CSV; returns the number of rows written."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(REJECT_COLUMNS)
        for reject in rejects:
            writer.writerow(reject)
            count += 1
    return count
