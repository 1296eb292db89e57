"""Spool folders left by a SIGKILLed ingest process are removed when an ingest
process starts, while those of live processes sharing the folder are kept (issue 16).
Real ingest processes on the test broker and database."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest

from finops.contracts.settings import KafkaSettings, PostgresSettings
from ingest.spoolfolders import PROCESS_PREFIX
from tests.support.deadline import Deadline
from tests.support.half_upload import HalfUpload
from tests.support.service_process import Running, start_service
from tests.support.tokens import create_token

pytestmark = pytest.mark.e2e

BODY = b"node,date,dimension,amount\n" + b"".join(
    b"n%d,2024-09-%02d,compute,1.5\n" % (i % 40, i % 28 + 1) for i in range(20_000)
)


def _env(
    kafka: KafkaSettings, postgres: PostgresSettings, root: Path, name: str
) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "KAFKA_TOPIC_NAMESPACE": kafka.topic_namespace,
        "DATABASE_URL": postgres.database_url,
        "DATABASE_SCHEMA": postgres.db_schema,
        "INGEST_SPOOL_DIR": str(root / "spool"),
        "INGEST_DROP_DIR": str(root / f"drop-{name}"),
    }


def _process_folders(spool: Path) -> set[Path]:
    return set(spool.glob(f"{PROCESS_PREFIX}*"))


def _upload_killed_half_way(ingest: Running, token: str) -> Path:
    """Send half a body, SIGKILL the process, then let the client finish; returns
    the partial spool file the killed process left."""
    params = {"filename": "costs.csv", "format": "node-costs", "source": "s"}
    upload = HalfUpload(ingest.url, BODY, params, token)
    upload.start()
    spool = Path(ingest.env["INGEST_SPOOL_DIR"])
    wait = Deadline(30, "the half-sent body on disk")
    while not [p for p in spool.rglob("costs.csv") if p.stat().st_size > 0]:
        wait.check()
        time.sleep(0.05)
    [partial] = spool.rglob("costs.csv")
    ingest.stop(signal.SIGKILL)
    outcome = upload.finish()
    assert isinstance(outcome, httpx.HTTPError), outcome
    return partial


def test_spool_folders_of_a_killed_ingest_are_swept_and_live_ones_kept(
    kafka_settings: KafkaSettings, postgres_settings: PostgresSettings, tmp_path: Path
) -> None:
    token = asyncio.run(create_token(postgres_settings))
    spool = tmp_path / "spool"
    started: list[Running] = []

    def start(name: str) -> Running:
        env = _env(kafka_settings, postgres_settings, tmp_path, name)
        ingest = start_service("ingest", "INGEST_", env, tmp_path / f"{name}.log")
        started.append(ingest)
        return ingest

    try:
        killed = start("killed")
        [killed_folder] = _process_folders(spool)
        live = start("live")
        [live_folder] = _process_folders(spool) - {killed_folder}
        (live_folder / "in-progress.csv").write_bytes(b"node,date")
        partial = _upload_killed_half_way(killed, token)
        assert partial.parent.parent == killed_folder  # left behind by the kill
        assert 0 < partial.stat().st_size < len(BODY)
        assert killed.process.returncode == -signal.SIGKILL

        fresh = start("fresh")  # sweeps at start
        assert not killed_folder.exists()
        assert (live_folder / "in-progress.csv").read_bytes() == b"node,date"
        [fresh_folder] = _process_folders(spool) - {live_folder}
        retried = httpx.post(
            f"{fresh.url}/ingests",
            params={"filename": "costs.csv", "format": "node-costs", "source": "s"},
            content=BODY,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        assert retried.status_code == 201, retried.text
        assert retried.json()["rows_accepted"] == 20_000
        assert list(fresh_folder.iterdir()) == []  # an upload's spool file goes
        assert live.process.poll() is None
    finally:
        for ingest in started:
            ingest.stop()
    assert _process_folders(spool) == set()  # a clean stop removes its folder
