"""Allocation figures: speed-up over a plain allocator, a large org's year, incremental.

Run: python bench/bench_allocate.py [--quick]   (or BENCH_QUICK=1, or via `make bench`).
Prints figures only; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from plain_allocator import allocate_plain

from finops.domain.allocation.synth import SynthOptions, generate_org
from finops.domain.money import format_micros
from finops.formats.engine_files import load_engine, write_org

FULL = {"speed": (5_000, 20_000, 90, 4), "year": (10_000, 50_000, 365, 5)}
QUICK = {"speed": (1_000, 4_000, 30, 4), "year": (2_000, 10_000, 60, 5)}


def synth(size: tuple[int, int, int, int], out: Path) -> Path:
    """Write a synthetic organisation of this size and say how long it took."""
    nodes, edges, days, dims = size
    began = time.perf_counter()
    write_org(generate_org(SynthOptions(nodes, edges, days, dims, seed=42)), out)
    print(
        f"synth {nodes} nodes / {edges} edges / {days} days / {dims} dims: "
        f"{time.perf_counter() - began:.1f} s",
        flush=True,
    )
    return out


def cli(folder: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "finops_tools.cli",
        "allocate",
        "--graph",
        str(folder / "graph.json"),
        "--costs",
        str(folder / "costs.csv"),
        "--usage",
        str(folder / "usage.csv"),
        "--summary-only",
    ]


def timed_cli(folder: Path) -> tuple[float, dict[str, str]]:
    began = time.perf_counter()
    done = subprocess.run(cli(folder), check=True, capture_output=True, text=True)
    return time.perf_counter() - began, json.loads(done.stdout)


def speed_up(folder: Path) -> None:
    """Figure 1: `finops allocate --summary-only` end to end vs the plain allocator."""
    runs = [timed_cli(folder) for _ in range(3)]
    ours = statistics.median(t for t, _ in runs)
    began = time.perf_counter()
    plain = allocate_plain(
        folder / "graph.json", folder / "costs.csv", folder / "usage.csv"
    )
    theirs = time.perf_counter() - began
    same = all(runs[0][1][k] == format_micros(v) for k, v in plain.items())
    print(
        f"figure 1: finops allocate --summary-only {ours:.2f} s (median of 3), "
        f"plain dict-and-loop {theirs:.2f} s, speed-up {theirs / ours:.1f}x, "
        f"same summary: {same}",
        flush=True,
    )


def year(folder: Path) -> None:
    """Figure 2: full allocation of the large org, wall time and peak memory."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    seconds, summary = timed_cli(folder)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    note = "" if peak > before else " (at most; an earlier child peaked higher)"
    print(
        f"figure 2: full allocation end to end {seconds:.2f} s, peak RSS "
        f"{peak / 1024 / 1024:.2f} GiB{note}, coverage {summary['coverage']:.4f}",
        flush=True,
    )


def incremental(folder: Path, updates: int = 300) -> None:
    """Figure 3: one node-day cost update (every dimension) on the large org."""
    engine = load_engine(
        folder / "graph.json", folder / "costs.csv", folder / "usage.csv"
    )
    rng = random.Random(7)
    payers = [n for n in engine.graph.ids if not n.startswith("prd-")]
    times = []
    for _ in range(updates):
        node = rng.choice(payers)
        day = engine.days.first + timedelta(days=rng.randrange(engine.days.count))
        amounts = {d: rng.randrange(-(10**6), 10**9) for d in engine.dimensions}
        began = time.perf_counter()
        engine.set_node_costs(node, day, amounts)
        times.append(time.perf_counter() - began)
    report("figure 3: incremental node-day cost update", times)
    users = [n for n in engine.graph.ids if engine.graph.parents(n)]
    times = []
    for _ in range(updates // 3):
        node = rng.choice(users)
        day = engine.days.first + timedelta(days=rng.randrange(engine.days.count))
        began = time.perf_counter()
        engine.set_usage(node, day, "requests", rng.uniform(0, 500), {"env": "prod"})
        times.append(time.perf_counter() - began)
    report("(extra) incremental node-day usage update", times)


def report(label: str, times: list[float]) -> None:
    """Median, p90 and max of some timings, in milliseconds."""
    times = sorted(times)
    print(
        f"{label}: median {statistics.median(times) * 1000:.2f} ms,"
        f" p90 {times[int(len(times) * 0.9)] * 1000:.2f} ms,"
        f" max {times[-1] * 1000:.2f} ms over {len(times)} updates",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, for a smoke run"
    )
    quick = parser.parse_known_args()[0].quick or os.environ.get("BENCH_QUICK") == "1"
    sizes = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="bench-allocate-") as tmp:
        speed_up(synth(sizes["speed"], Path(tmp) / "speed"))
        big = synth(sizes["year"], Path(tmp) / "year")
        year(big)
        incremental(big)


if __name__ == "__main__":
    main()
