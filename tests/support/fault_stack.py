"""A Kafka broker and a PostgreSQL of their own, for tests that stop and start them
(the suite's shared ones must keep running), with the services as processes."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from finops.contracts.settings import DevStackSettings, KafkaSettings, PostgresSettings
from finops_tools.devstack import Stack
from tests.support.infrastructure import free_port

__all__ = ["FaultStack", "fault_stack"]


@dataclass
class FaultStack:
    """The stack and how services reach it."""

    stack: Stack
    kafka: KafkaSettings
    postgres: PostgresSettings

    def stop(self, name: str) -> None:
        """Stop `kafka` or `postgres` (cleanly, as an operator or a crash-free
        outage would)."""
        self.stack.stop(name, progress=_quiet)

    def start(self) -> None:
        """Start again whatever was stopped (data kept)."""
        self.stack.up(services=False, migrate=False, progress=_quiet)

    def env(self) -> dict[str, str]:
        """The services' and commands' environment for this stack."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "DATABASE_URL": self.postgres.database_url,
            "DATABASE_SCHEMA": self.postgres.db_schema,
            "FINOPS_STATE_DIR": str(self.stack.token_file.parent),
        }


def _quiet(_: str) -> None:
    pass


@contextlib.contextmanager
def fault_stack() -> Iterator[FaultStack]:
    """A migrated stack on free ports, stopped and removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="finops-faults-"))
    settings = DevStackSettings(
        state_dir=root / ".finops",
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        postgres_port=free_port(),
        service_base_port=free_port(),
    )
    stack = Stack(settings)
    try:
        stack.up(services=False, progress=_quiet)
        yield FaultStack(
            stack,
            KafkaSettings(bootstrap_servers=stack.bootstrap_servers),
            PostgresSettings(DATABASE_URL=stack.database_url),
        )
    finally:
        stack.down(progress=_quiet)
        shutil.rmtree(root, ignore_errors=True)
