"""The allocator as a process for e2e tests: start, wait until healthy, stop or kill."""

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
from tests.support.infrastructure import free_port

__all__ = ["AllocatorProcess"]


@dataclass
class AllocatorProcess:
    """One allocator worker on a free port, its output in a log file."""

    kafka: KafkaSettings
    postgres: PostgresSettings
    workdir: Path
    name: str = "allocator"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "KAFKA_TOPIC_NAMESPACE": self.kafka.topic_namespace,
            "DATABASE_URL": self.postgres.database_url,
            "DATABASE_SCHEMA": self.postgres.db_schema,
            "ALLOCATOR_HTTP_PORT": str(self.port),
            "ALLOCATOR_DATA_DIR": str(self.workdir / f"{self.name}-data"),
        }

    def start(self, timeout_s: float = 120) -> None:
        """Start and wait until /healthz answers 200."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "allocator"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env(),
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            if self.healthy():
                return
            time.sleep(0.2)
        raise AssertionError(f"allocator not healthy: {self.log.read_text()[-3000:]}")

    def healthy(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/healthz"
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60) -> int:
        """Send a signal and wait for the process to end; returns its exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.name} did not stop on {sig}") from None
