"""A platform service or a helper program as a process of the test, on a free port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.deadline import Deadline
from tests.support.infrastructure import free_port

__all__ = ["Running", "start_process", "start_service"]


@dataclass
class Running:
    """A started process, its URL and its log."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    command: list[str]
    env: dict[str, str]

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=timeout_s)

    def restart(self) -> None:
        """Start the same command again (after a stop or a kill)."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )


def start_process(
    command: list[str], *, env: dict[str, str], log: Path, url: str
) -> Running:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    return Running(process, url, log, command, {**os.environ, **env})


def start_service(
    module: str, prefix: str, env: dict[str, str], log: Path, *, wait_s: float = 90
) -> Running:
    """`python -m module` with `{prefix}HTTP_PORT` free; waits for /healthz 200."""
    port = free_port()
    running = start_process(
        [sys.executable, "-m", module],
        env={**env, f"{prefix}HTTP_PORT": str(port)},
        log=log,
        url=f"http://127.0.0.1:{port}",
    )
    wait_healthy(running, wait_s)
    return running


def wait_healthy(running: Running, wait_s: float = 90) -> None:
    deadline = Deadline(wait_s, f"{running.url}/healthz to answer 200")
    while True:
        assert running.process.poll() is None, running.log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"{running.url}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        deadline.check(running.log.read_text()[-2000:])
        time.sleep(0.1)
