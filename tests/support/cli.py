"""Running the `finops` command as a process, the way users and scripts do."""

from __future__ import annotations

import subprocess
import sys
from typing import Final

__all__ = ["FINOPS", "finops", "run_finops"]

FINOPS: Final = [sys.executable, "-m", "finops_tools.cli"]


def finops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with this environment; it must succeed."""
    done = run_finops(*args, env=env)
    assert done.returncode == 0, done.stderr
    return done


def run_finops(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI with this environment, whatever its exit code."""
    return subprocess.run(
        [*FINOPS, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
