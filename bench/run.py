"""Run every benchmark under bench/ (files named bench_*.py) and print their figures."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path


def main() -> None:
    here = Path(__file__).parent
    only = sys.argv[1:]
    for script in sorted(here.glob("bench_*.py")):
        if only and script.stem.removeprefix("bench_") not in only:
            continue
        print(f"== {script.name}", flush=True)
        sys.argv = [str(script)]  # each benchmark's defaults, not run.py's arguments
        runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main()
