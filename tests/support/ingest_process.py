"""The ingest service as a process on a free port, as `finops dev up` runs it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

from finops.contracts.settings import KafkaSettings, PostgresSettings
from tests.support.deadline import Deadline
from tests.support.infrastructure import free_port

__all__ = ["ingest_process"]


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    wait = Deadline(60, f"ingest at {url} to answer /healthz")
    while not wait.expired():
        assert process.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"ingest did not become healthy:\n{log.read_text()}")


@contextlib.contextmanager
def ingest_process(
    kafka: KafkaSettings,
    postgres: PostgresSettings,
    root: Path,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Its URL while it runs; stopped with SIGTERM after, which must be clean."""
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "KAFKA_TOPIC_NAMESPACE": kafka.topic_namespace,
        "DATABASE_URL": postgres.database_url,
        "DATABASE_SCHEMA": postgres.db_schema,
        "INGEST_HTTP_PORT": str(port),
        "INGEST_SPOOL_DIR": str(root / "spool"),
        "INGEST_DROP_DIR": str(root / "drop"),
        **(extra_env or {}),
    }
    log = root / "ingest.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ingest"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert "Application shutdown complete" in log.read_text()
