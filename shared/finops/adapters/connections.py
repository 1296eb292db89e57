"""A service's connections: an asyncpg pool and an aiokafka producer."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from finops.adapters.kafka_admin import ensure_topics
from finops.contracts.settings import KafkaSettings, PostgresSettings

__all__ = ["Connections", "OpenedPool"]

_log = logging.getLogger(__name__)


class Connections:
    """Opened once at start-up, closed at shutdown; nothing connects at import time."""

    def __init__(
        self, kafka: KafkaSettings, postgres: PostgresSettings, *, client_id: str
    ) -> None:
        self._kafka = kafka
        self._postgres = postgres
        self._client_id = client_id
        self._pool: asyncpg.Pool | None = None
        self._producer: AIOKafkaProducer | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("connections are not open")
        return self._pool

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("connections are not open")
        return self._producer

    async def open(self) -> None:
        """Create topics that are missing, then the pool and the producer."""
        created = await ensure_topics(
            self._kafka.bootstrap_servers,
            namespace=self._kafka.topic_namespace,
            security=self._kafka.client_options(),
        )
        if created:
            _log.info("created topics %s", ", ".join(created))
        self._pool = await asyncpg.create_pool(
            self._postgres.database_url,
            min_size=self._postgres.min_pool_size,
            max_size=self._postgres.max_pool_size,
            server_settings={"search_path": self._postgres.db_schema},
        )
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._kafka.bootstrap_servers,
            client_id=f"{self._kafka.client_id}-{self._client_id}",
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            **self._kafka.client_options(),
        )
        await self._producer.start()

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
        if self._pool is not None:
            await self._pool.close()

    async def database_ok(self) -> bool:
        try:
            one = await asyncio.wait_for(self.pool.fetchval("SELECT 1"), 2)
            return bool(one == 1)
        except (OSError, asyncpg.PostgresError, TimeoutError, RuntimeError):
            return False

    async def kafka_ok(self) -> bool:
        try:
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), 2)
        except Exception:  # any failure means "not healthy" for a probe
            return False
        return True


class OpenedPool:
    """The connections' pool, looked up when used: a collaborator built before the
    lifespan opens the pool (the token store) queries through it."""

    def __init__(self, connections: Connections) -> None:
        self._connections = connections

    async def fetchrow(self, query: str, *args: Any) -> Any:
        return await self._connections.pool.fetchrow(query, *args)

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        return list(await self._connections.pool.fetch(query, *args))

    async def execute(self, query: str, *args: Any) -> str:
        return str(await self._connections.pool.execute(query, *args))
