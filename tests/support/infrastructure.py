"""The suite's one real Kafka broker and one real PostgreSQL, chosen once per session.

Order: the environment (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL), then testcontainers
when a Docker engine answers, else the launcher of `finops dev up` on free local ports.
"""

from __future__ import annotations

import contextlib
import gc
import os
import random
import socket
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from finops.contracts.settings import DevStackSettings
from finops_tools.devstack import Stack

__all__ = ["Infrastructure", "free_port", "free_port_block", "provide_infrastructure"]


@dataclass(frozen=True, slots=True)
class Infrastructure:
    """Where the suite's broker and database are, and where they came from."""

    bootstrap_servers: str
    database_url: str
    origin: str


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_block(count: int) -> int:
    """The first of `count` consecutive ports on 127.0.0.1 that nothing listens on,
    below the kernel's ephemeral range (32768-): a port the kernel hands to outgoing
    connections could be taken between choosing it and a server binding it."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, 32_000 - count)
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free ports found")


def _docker_answers() -> bool:
    """True when a Docker engine answers a ping (no DockerException)."""
    # The docker client leaves its socket to the garbage collector when the engine is
    # absent; collect it here, where that ResourceWarning is expected and silenced.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        answers = _ping_docker()
        gc.collect()
    return answers


def _ping_docker() -> bool:
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        return False
    try:
        client = docker.from_env()
    except DockerException:
        return False
    try:
        return bool(client.ping())
    except DockerException:
        return False
    finally:
        client.close()


@contextlib.contextmanager
def _containers(
    need_kafka: bool, need_db: bool
) -> Iterator[tuple[str | None, str | None]]:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer

    with contextlib.ExitStack() as stack:
        kafka = (
            stack.enter_context(KafkaContainer().with_kraft()) if need_kafka else None
        )
        pg = (
            stack.enter_context(PostgresContainer("postgres:17", driver=None))
            if need_db
            else None
        )
        yield (
            kafka.get_bootstrap_server() if kafka else None,
            pg.get_connection_url() if pg else None,
        )


@contextlib.contextmanager
def local_postgres(root: Path, *, migrate: bool) -> Iterator[str]:
    """The dev stack's PostgreSQL alone, started in `root` (for benches): its URL."""
    with _local(root, "127.0.0.1:1", None, migrate=migrate) as (_, url):
        yield url


@contextlib.contextmanager
def _local(
    root: Path, kafka: str | None, db: str | None, *, migrate: bool = False
) -> Iterator[tuple[str, str]]:
    settings = DevStackSettings(
        state_dir=root / "stack",
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        postgres_port=free_port(),
        start_timeout_s=180,
    )
    stack = Stack(settings, external_kafka=kafka, external_database=db)
    try:
        stack.up(services=False, migrate=migrate, progress=lambda _: None)
        yield stack.bootstrap_servers, stack.database_url
    finally:
        stack.down(progress=lambda _: None)


@contextlib.contextmanager
def provide_infrastructure(root: Path) -> Iterator[Infrastructure]:
    """Yield the session's broker and database; stop whatever was started here."""
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    db = os.environ.get("DATABASE_URL")
    origins = ["environment"] if kafka or db else []
    with contextlib.ExitStack() as stack:
        if (kafka is None or db is None) and _docker_answers():
            tc_kafka, tc_db = stack.enter_context(
                _containers(kafka is None, db is None)
            )
            kafka, db = kafka or tc_kafka, db or tc_db
            origins.append("testcontainers")
        if kafka is None or db is None:
            kafka, db = stack.enter_context(_local(root, kafka, db))
            origins.append("local launcher")
        yield Infrastructure(kafka, db, " + ".join(origins))
