"""The platform's services as background processes of the local stack."""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from finops.errors import StackError
from finops_tools.devstack.processes import is_alive, log_tail, spawn

__all__ = ["SERVICES", "ServiceProcess"]


@dataclass(frozen=True, slots=True)
class ServiceProcess:
    """How to run one service: `python -m module`, HTTP on base port + offset."""

    name: str
    module: str
    env_prefix: str
    port_offset: int

    def start(
        self, *, port: int, log: Path, env: dict[str, str], timeout_s: float
    ) -> int:
        """Start the service and wait until /healthz answers 200; returns its pid."""
        full_env = {**os.environ, **env, f"{self.env_prefix}HTTP_PORT": str(port)}
        pid = spawn([sys.executable, "-m", self.module], log=log, env=full_env)
        _wait_healthy(
            f"http://127.0.0.1:{port}/healthz", pid=pid, log=log, timeout_s=timeout_s
        )
        return pid


SERVICES: Final = (
    ServiceProcess("ingest", "ingest", "INGEST_", 0),
    ServiceProcess("allocator", "allocator", "ALLOCATOR_", 1),
    ServiceProcess("governance", "governance", "GOVERNANCE_", 2),
    ServiceProcess("api", "api", "API_", 3),
)


def _wait_healthy(url: str, *, pid: int, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_alive(pid):
            raise StackError(
                f"service exited while starting; see {log}:\n{log_tail(log)}"
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise StackError(f"{url} did not answer within {timeout_s:.0f}s; see {log}")
