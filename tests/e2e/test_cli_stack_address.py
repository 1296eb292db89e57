"""Commands that talk to the stack find it as `finops dev status` does, and fail in
one line when nothing answers (they went to the default ports, with a traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.infrastructure import free_port

GRAPH = "nodes:\n  - {id: vm, type: resource}\n  - {id: shop, type: product}\n"


def _finops(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")
    }
    done = subprocess.run(
        [sys.executable, "-m", "finops_tools.cli", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stderr


@pytest.mark.parametrize(
    ("args", "variable", "what"),
    [
        (["graph", "apply", "graph.yaml"], "FINOPS_KAFKA_PORT", "Kafka"),
        (["results", "--output", "out.json"], "FINOPS_POSTGRES_PORT", "PostgreSQL"),
    ],
)
def test_the_stack_port_settings_are_used_and_a_silent_stack_is_one_line(
    tmp_path: Path, args: list[str], variable: str, what: str
) -> None:
    (tmp_path / "graph.yaml").write_text(GRAPH)
    port = free_port()
    code, err = _finops(args, {variable: str(port)}, tmp_path)
    assert code == 2
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: cannot reach {what} at ")
    assert f"127.0.0.1:{port}" in err
    assert not (tmp_path / "out.json").exists()


def test_database_url_wins_over_the_dev_stack(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql://app:secret@127.0.0.1:{port}/finops"
    code, err = _finops(
        ["results", "--output", "out.json"], {"DATABASE_URL": url}, tmp_path
    )
    assert code == 2
    assert f"postgresql://127.0.0.1:{port}/finops" in err
    assert "secret" not in err
