"""The api service as a process for e2e tests: start, wait until healthy, stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from finops.contracts.settings import KafkaSettings, PostgresSettings
from tests.support.deadline import Deadline
from tests.support.infrastructure import free_port

__all__ = ["ApiProcess"]


@dataclass
class ApiProcess:
    """`python -m api` on a free port, its output in a log file."""

    kafka: KafkaSettings
    postgres: PostgresSettings
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "api.log"

    def start(self) -> None:
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "KAFKA_TOPIC_NAMESPACE": self.kafka.topic_namespace,
            "DATABASE_URL": self.postgres.database_url,
            "DATABASE_SCHEMA": self.postgres.db_schema,
            "API_HTTP_PORT": str(self.port),
            **self.extra_env,
        }
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "api"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        wait = Deadline(120, f"api at {self.url} to answer /healthz")
        while not wait.expired():
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            if self._healthy():
                return
            time.sleep(0.1)
        raise AssertionError(f"api not healthy: {self.log.read_text()[-3000:]}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
