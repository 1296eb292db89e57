"""Faust's aiokafka transport, with a short fetch wait for the worker's consumer:
Faust's 1.5 s held up partitions just drained
(docs/decisions/0004-short-fetch-wait.md); 100 ms, not 50, halves the empty fetches
that cost the broker CPU while the stream is quiet
(docs/decisions/0290-fewer-empty-fetches.md)."""

from __future__ import annotations

from typing import Any

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TransportT

__all__ = ["FETCH_MAX_WAIT_MS", "App"]

FETCH_MAX_WAIT_MS = 100  # below the router's 0.15 s gathering window (0003)


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):  # type: ignore[misc]  # faust is Any
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its fetcher.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _Consumer(faust_aiokafka.Consumer):  # type: ignore[misc]  # faust is Any to mypy
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):  # type: ignore[misc]  # faust is Any to mypy
    Consumer = _Consumer


class App(faust.App):  # type: ignore[misc]  # faust is Any to mypy
    """faust.App whose consumer waits at most FETCH_MAX_WAIT_MS per fetch."""

    def _new_transport(self) -> TransportT:
        return _Transport(self.conf.broker_consumer, self)
