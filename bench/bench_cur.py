"""AWS CUR normalisation speed: legacy CSV.gz and CUR 2.0 Parquet, rows per second.

Generates a report with the tests' generator (tests/support/cur_files.py: AWS's
column sets, every line item type, split cost rows, tags), replicated to `--rows`
rows, in a temporary directory; then times `normalize_file` over it with rules
that read a tag and the effective cost (file writing is not timed).

    python bench/bench_cur.py [--rows 500000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.normalize import normalize_file
from tests.support.cur_files import (
    LEGACY_COLUMNS,
    cur_rows,
    replicate_table,
    rows_table,
    write_table_csv,
)

RULES = MappingRules.model_validate(
    {
        "cost_column": "EffectiveCost",
        "dimension": "{ServiceCategory}",
        "rules": [
            {"when": {"Tags.team": "*"}, "node": "team-{Tags.team}"},
            {"when": {"x_SplitParentResourceId": "i-*"}, "node": "pods"},
        ],
    }
)


def _legacy_table(rows: list[dict[str, str]]) -> pa.Table:
    return pa.table(
        {c: pa.array([r[c] for r in rows], pa.string()) for c in LEGACY_COLUMNS}
    )


def _time(path: Path) -> tuple[int, float]:
    began = time.perf_counter()
    rows = 0
    for batch in normalize_file(path, RULES):
        rows += batch.rows_read
    return rows, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=500_000)
    count = parser.parse_args().rows
    base = cur_rows(date(2024, 9, 1)) + cur_rows(date(2024, 10, 1), seed=2)
    with tempfile.TemporaryDirectory(prefix="bench-cur-") as folder:
        legacy = Path(folder) / "cur-legacy.csv.gz"
        write_table_csv(replicate_table(_legacy_table(base), count), legacy)
        parquet = Path(folder) / "cur2.parquet"
        pq.write_table(replicate_table(rows_table(base), count), parquet)
        for label, path in (("legacy CSV.gz", legacy), ("CUR 2.0 Parquet", parquet)):
            rows, seconds = _time(path)
            size = path.stat().st_size / 2**20
            print(
                f"{label:<16} {rows:>9,} rows {size:7.1f} MiB {seconds:6.2f} s "
                f"{rows / seconds:>10,.0f} rows/s",
                flush=True,
            )


if __name__ == "__main__":
    main()
