"""`finops ingest` against the ingest service as a process (real Kafka, PostgreSQL)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from finops.contracts.settings import KafkaSettings, PostgresSettings
from tests.support.cli import FINOPS
from tests.support.infrastructure import free_port
from tests.support.ingest_process import ingest_process
from tests.support.tokens import create_token

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT.parent / "shared" / "data" / "focus-1.0-sample" / "focus_sample.csv"
RULES = ROOT / "examples" / "rules" / "focus_sample.yaml"


@pytest.fixture
def ingest_url(
    kafka_settings: KafkaSettings,
    postgres_settings: PostgresSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    """The ingest service as a process on a free port; stopped with SIGTERM after."""
    # The commands send FINOPS_TOKEN (the service requires a token).
    monkeypatch.setenv("FINOPS_TOKEN", asyncio.run(create_token(postgres_settings)))
    with ingest_process(kafka_settings, postgres_settings, tmp_path) as url:
        yield url


def _finops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FINOPS, *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_finops_ingest_uploads_and_prints_counts(
    ingest_url: str, tmp_path: Path
) -> None:
    done = _finops(
        "ingest",
        "--format",
        "focus",
        str(SAMPLE),
        "--rules",
        str(RULES),
        "--source",
        "sample",
        "--url",
        ingest_url,
    )
    assert done.returncode == 0, done.stderr
    assert "focus_sample.csv: 1000 rows read, 1000 accepted, 0 rejected" in done.stdout
    # Rounded once (issue 16): the exact sum 18.0066386184, not the sum of lines
    # each rounded first (18.006628).
    assert "AWS 18.006639" in done.stdout
    again = _finops(
        "ingest",
        "--format",
        "focus",
        str(SAMPLE),
        "--rules",
        str(RULES),
        "--source",
        "sample",
        "--url",
        ingest_url,
    )
    assert again.returncode == 0 and "already ingested" in again.stdout
    costs = tmp_path / "costs.csv"
    costs.write_text("node,date,dimension,amount\nweb,2024-09-01,compute,1.5\n")
    usage = ROOT / "tests" / "data" / "focus" / "usage.csv"
    assert (
        _finops(
            "ingest", "--format", "node-costs", str(costs), "--url", ingest_url
        ).returncode
        == 0
    )
    assert (
        _finops(
            "ingest", "--format", "usage", str(usage), "--url", ingest_url
        ).returncode
        == 0
    )


def test_finops_ingest_refuses_bad_input_with_one_line(ingest_url: str) -> None:
    unknown = ROOT / "tests" / "data" / "focus" / "unknown_layout.csv"
    refused = _finops("ingest", "--format", "focus", str(unknown), "--url", ingest_url)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "missing" in refused.stderr
    missing = _finops("ingest", "--format", "focus", "no-such.csv", "--url", ingest_url)
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_finops_ingest_says_when_the_stack_is_not_running() -> None:
    down = _finops(
        "ingest",
        "--format",
        "focus",
        str(SAMPLE),
        "--url",
        f"http://127.0.0.1:{free_port()}",
    )
    assert down.returncode == 2
    assert down.stderr.count("\n") == 1 and "finops dev up" in down.stderr
