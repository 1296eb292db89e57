"""Session fixtures: the real broker and database; a namespace and schema per test."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from finops.adapters.migrations import apply_migrations
from finops.contracts.settings import KafkaSettings, PostgresSettings
from tests.support.infrastructure import Infrastructure, provide_infrastructure

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    """One real Kafka and one real PostgreSQL for the whole session."""
    # Not under pytest's basetemp: a concurrent pytest run may rotate that away, and the
    # database's system account must be able to traverse the path.
    root = Path(tempfile.mkdtemp(prefix="finops-test-stack-"))
    try:
        with provide_infrastructure(root) as infra:
            print(f"\ntest infrastructure: {infra.origin}")
            yield infra
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def kafka_settings(infrastructure: Infrastructure) -> KafkaSettings:
    """Kafka settings with a topic namespace of this test's own."""
    return KafkaSettings(
        bootstrap_servers=infrastructure.bootstrap_servers,
        topic_namespace=f"t{uuid.uuid4().hex[:10]}",
    )


@pytest.fixture
async def postgres_settings(
    infrastructure: Infrastructure,
) -> AsyncIterator[PostgresSettings]:
    """A fresh schema with every migration applied; dropped after the test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(infrastructure.database_url)
    try:
        await apply_migrations(
            conn, folder=PostgresSettings().migrations_dir, schema=schema
        )
        yield PostgresSettings(
            DATABASE_URL=infrastructure.database_url, DATABASE_SCHEMA=schema
        )
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


@pytest.fixture
def env(
    kafka_settings: KafkaSettings, postgres_settings: PostgresSettings
) -> dict[str, str]:
    """The environment of a `finops` command or service: this test's topics and
    schema."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "KAFKA_TOPIC_NAMESPACE": kafka_settings.topic_namespace,
        "DATABASE_URL": postgres_settings.database_url,
        "DATABASE_SCHEMA": postgres_settings.db_schema,
    }


@pytest.fixture
async def db(postgres_settings: PostgresSettings) -> AsyncIterator[asyncpg.Connection]:
    """A connection whose search_path is the test's schema."""
    conn = await asyncpg.connect(
        postgres_settings.database_url,
        server_settings={"search_path": postgres_settings.db_schema},
    )
    try:
        yield conn
    finally:
        await conn.close()
