"""Benchmark `finops focus normalize` on a 1,000,000-row FOCUS CSV (figures printed).

The file is made in a temporary directory by replicating the real FOCUS 1.0 sample
(../shared/data) with another billing account and application tag per copy. Every
process runs pinned to one CPU core (taskset, when available): BENCH_CPU, else the
highest-numbered core this process may use. Figures, not asserts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
DATA: Final = ROOT.parent / "shared" / "data"
SAMPLE: Final = DATA / "focus-1.0-sample" / "focus_sample.csv"
RULES: Final = ROOT / "examples" / "rules" / "focus_sample.yaml"
SIZES: Final = (250_000, 1_000_000)

# Baselines: pyarrow merely reading the same file, with its defaults (whole table,
# type inference) and streaming every column as text in 1 MB blocks, batch by batch.
_READ_ONLY: Final = {
    "read_csv": "import sys, pyarrow.csv as c; c.read_csv(sys.argv[1])",
    "open_csv": (
        "import csv, sys, pyarrow as pa, pyarrow.csv as c\n"
        "names = next(csv.reader(open(sys.argv[1])))\n"
        "conv = c.ConvertOptions(column_types=dict.fromkeys(names, pa.string()))\n"
        "read = c.ReadOptions(use_threads=False, block_size=1 << 20)\n"
        "for _ in c.open_csv(sys.argv[1], convert_options=conv, read_options=read):\n"
        "    pass"
    ),
}


def make_focus_csv(path: Path, rows: int) -> None:
    """Write `rows` data rows by replicating the sample with small variations."""
    header, *body = SAMPLE.read_bytes().rstrip(b"\n").split(b"\n")
    with path.open("wb") as out:
        out.write(header + b"\n")
        copy = 0
        while rows > 0:
            chunk = body[: min(rows, len(body))]
            account = b'"1234567%06d"' % copy
            application = b'""application"": ""v%d-' % (copy % 10)
            text = b"\n".join(chunk).replace(b'"1234567890123"', account)
            text = text.replace(b'""application"": ""', application)
            out.write(text + b"\n")
            rows -= len(chunk)
            copy += 1


def _cpu() -> str:
    """The core to pin to: BENCH_CPU, else the highest one available."""
    return os.environ.get("BENCH_CPU") or str(max(os.sched_getaffinity(0)))


def run_measured(command: list[str]) -> tuple[float, int]:
    """Run a command; wall seconds and peak RSS (MiB) of that process."""
    pin = ["taskset", "-c", _cpu()] if shutil.which("taskset") else []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    start = time.perf_counter()
    process = subprocess.Popen(pin + command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(command)}")
    return elapsed, usage.ru_maxrss // 1024


def bench_size(workdir: Path, rows: int) -> None:
    """Print normalize and read-only figures for one file size."""
    source = workdir / f"focus_{rows}.csv"
    make_focus_csv(source, rows)
    finops = [
        sys.executable,
        "-m",
        "finops_tools.cli",
        "focus",
        "normalize",
        str(source),
    ]
    options = ["--rules", str(RULES), "--output", str(workdir / "costs.csv")]
    seconds, rss = run_measured(finops + options)
    size_mb = source.stat().st_size / 1e6
    print(
        f"{rows:>9,} rows ({size_mb:,.0f} MB): finops focus normalize {seconds:.2f} s"
        f" = {rows / seconds:,.0f} rows/s, peak RSS {rss} MiB"
    )
    for name, script in _READ_ONLY.items():
        read_seconds, read_rss = run_measured(
            [sys.executable, "-c", script, str(source)]
        )
        print(
            f"{'':>9}   pyarrow {name} only {read_seconds:.2f} s = "
            f"{rows / read_seconds:,.0f} rows/s, peak RSS {read_rss} MiB; normalize "
            f"runs at {read_seconds / seconds:.2f} x its speed"
        )
    source.unlink()


def main() -> None:
    """Run both sizes in a temporary directory."""
    pinned = f"taskset -c {_cpu()}" if shutil.which("taskset") else "not pinned"
    print(f"one core: {pinned}")
    with tempfile.TemporaryDirectory(prefix="bench-normalize-") as tmp:
        for rows in SIZES:
            bench_size(Path(tmp), rows)


if __name__ == "__main__":
    main()
