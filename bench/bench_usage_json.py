"""Peak memory of reading a JSON-array usage file, by file size (issue 16).

Writes JSON arrays of 250,000 and 1,000,000 usage rows (200 nodes x 30 days x one
metric, so the combined records stay at 6,000 whatever the size) in a temporary
directory and reads each, in its own process, with `read_combined_usage` (streams
the array element by element), next to `json.load` of the same file (what the reader
did before). Prints rows/s and each process's peak RSS.

    python bench/bench_usage_json.py [ROWS ...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = (250_000, 1_000_000)
ROW = '{"node": "app-%d", "date": "2025-01-%02d", "metric": "cpu", "value": %d.5}'
STREAMED = (
    "import sys; from pathlib import Path;"
    " from finops.domain.focus.usage import read_combined_usage;"
    " read = read_combined_usage(Path(sys.argv[1]));"
    " assert read.rows_read == int(sys.argv[2]) and not read.rejects, read.rows_read;"
    " assert len(read.records) == 6000, len(read.records)"
)
WHOLE = (
    "import json, sys; rows = json.load(open(sys.argv[1], encoding='utf-8'));"
    " assert len(rows) == int(sys.argv[2])"
)


def make_usage_json(path: Path, rows: int) -> None:
    """A JSON array of `rows` usage rows, one per line."""
    with path.open("w", encoding="utf-8") as out:
        out.write("[\n")
        for i in range(rows):
            row = ROW % (i % 200, i // 200 % 30 + 1, i % 1000)
            out.write(row + (",\n" if i + 1 < rows else "\n"))
        out.write("]\n")


def run_measured(script: str, path: Path, rows: int) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of one reader process."""
    start = time.perf_counter()
    command = [sys.executable, "-c", script, str(path), str(rows)]
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("benchmark reader failed")
    return elapsed, usage.ru_maxrss // 1024


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or list(SIZES)
    with tempfile.TemporaryDirectory() as work:
        for rows in sizes:
            path = Path(work) / f"usage_{rows}.json"
            make_usage_json(path, rows)
            size_mb = path.stat().st_size / 1e6
            for name, script in (("streamed", STREAMED), ("json.load", WHOLE)):
                seconds, rss = run_measured(script, path, rows)
                print(
                    f"{rows:>9,} rows ({size_mb:,.0f} MB) {name:>9}: {seconds:.2f} s"
                    f" = {rows / seconds:,.0f} rows/s, peak RSS {rss} MiB",
                    flush=True,
                )
            path.unlink()


if __name__ == "__main__":
    main()
