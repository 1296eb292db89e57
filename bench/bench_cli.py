"""The batch path from the command line: `finops allocate --summary-only` against an
older commit's code, side by side, and `finops --help`.

Run: python bench/bench_cli.py [--runs N] [--base COMMIT] [--org DIR] [--quick]

The older code is extracted with `git archive` into a temporary folder and run by
the same Python with that folder first on PYTHONPATH (its CLI module is found
`finops.cli` in older trees, else `finops_tools.cli`). Both trees are
byte-compiled first, as installed packages are. Old and new runs alternate,
so a busy neighbour on the machine slows both alike. Each run's wall time and CPU
time (user + system, of the child) are printed, then the ranges and the speed-up of
the medians; the summaries must be identical. Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FULL = (5_000, 20_000, 90, 4)
QUICK = (1_000, 4_000, 30, 4)
# Runs the CLI of whichever tree is first on sys.path (the entry point moved).
LAUNCH = """
import sys
try:
    from finops.cli import main
except ImportError:
    from finops_tools.cli import main
sys.argv = ["finops", *sys.argv[1:]]
main()
"""


def synth(size: tuple[int, int, int, int], out: Path) -> Path:
    nodes, edges, days, dims = size
    figures = {"--nodes": nodes, "--edges": edges, "--days": days}
    figures |= {"--dimensions": dims, "--seed": 42}
    args = [str(a) for pair in figures.items() for a in pair]
    subprocess.run(
        [sys.executable, "-m", "finops_tools.cli", "synth", "--out", str(out), *args],
        check=True,
        capture_output=True,
    )
    return out


def extract(commit: str, into: Path) -> dict[str, str]:
    """The environment that runs `commit`'s code (its trees first on PYTHONPATH)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    paths = [into / "shared", into / "tools"]
    paths += sorted(p for p in (into / "services").glob("*") if p.is_dir())
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths if p.is_dir())
    compiled([p for p in paths if p.is_dir()])
    return env


def compiled(trees: list[Path]) -> None:
    """Byte-compile the trees, as an installed package is: neither side's runs pay
    for compiling its modules (with PYTHONDONTWRITEBYTECODE set, a tree without
    bytecode would compile every module on every run)."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *map(str, trees)],
        check=True,
        capture_output=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    )


def timed(argv: list[str], env: dict[str, str] | None) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds of the child, and its standard output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def span(values: list[float]) -> str:
    return (
        f"{min(values):.2f}-{max(values):.2f} s "
        f"(median {statistics.median(values):.2f})"
    )


def allocate_side_by_side(org: Path, env_old: dict[str, str], runs: int) -> None:
    args = ["allocate", "--graph", str(org / "graph.json")]
    args += ["--costs", str(org / "costs.csv"), "--usage", str(org / "usage.csv")]
    args += ["--summary-only"]
    old_cmd = [sys.executable, "-c", LAUNCH, *args]
    new_cmd = [sys.executable, "-m", "finops_tools.cli", *args]
    figures: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
    outputs: set[str] = set()
    for i in range(runs):
        for name, cmd, env in (("old", old_cmd, env_old), ("new", new_cmd, None)):
            wall, cpu, out = timed(cmd, env)
            figures[name].append((wall, cpu))
            outputs.add(out)
            print(f"run {i + 1} {name}: wall {wall:.2f} s, cpu {cpu:.2f} s", flush=True)
    for name, values in figures.items():
        print(
            f"{name}: wall {span([w for w, _ in values])}, "
            f"cpu {span([c for _, c in values])}"
        )
    old_wall = statistics.median(w for w, _ in figures["old"])
    new_wall = statistics.median(w for w, _ in figures["new"])
    ratios = [o[0] / n[0] for o, n in zip(figures["old"], figures["new"], strict=True)]
    print(
        f"speed-up (wall, medians): {old_wall / new_wall:.2f}x; "
        f"run by run {min(ratios):.2f}x-{max(ratios):.2f}x; "
        f"identical summaries: {len(outputs) == 1}",
        flush=True,
    )


def help_times(runs: int) -> None:
    walls = [
        timed([sys.executable, "-m", "finops_tools.cli", "--help"], None)[0]
        for _ in range(runs)
    ]
    print(f"finops --help: wall {span(walls)} over {runs} runs", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--base", default="0951495", help="Older commit to compare.")
    parser.add_argument("--org", type=Path, help="Existing org folder to allocate.")
    parser.add_argument("--quick", action="store_true", help="A small org.")
    options = parser.parse_args()
    size = QUICK if options.quick or os.environ.get("BENCH_QUICK") == "1" else FULL
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        org = options.org or synth(size, Path(tmp) / "org")
        print(f"org {org}; base {options.base}; {options.runs} runs each", flush=True)
        old = Path(tmp) / "old"
        old.mkdir()
        env_old = extract(options.base, old)
        compiled([ROOT / "shared", ROOT / "tools", ROOT / "services"])
        allocate_side_by_side(org, env_old, options.runs)
    help_times(options.runs)


if __name__ == "__main__":
    main()
