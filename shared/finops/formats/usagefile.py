"""Usage rows as the usage file ingest reads: `node,date,metric,value,labels`."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

__all__ = ["USAGE_FILE_COLUMNS", "write_usage_file"]

USAGE_FILE_COLUMNS: Final = ("node", "date", "metric", "value", "labels")


def write_usage_file(rows: Iterable[Mapping[str, str]], path: Path) -> Path:
    """Write rows (text fields) as a usage CSV; the same rows give the same bytes."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=USAGE_FILE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path
