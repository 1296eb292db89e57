"""Faust's in-memory table store, restored in bulk from its changelog."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faust.stores.memory import Store as MemoryStore
from faust.types import TP, EventT, StoreT

__all__ = ["BulkRestoredStore", "BulkRestoredTable"]

_log = logging.getLogger(__name__)
FETCH_BYTES = 8 * 1024 * 1024  # per partition: a year of a changelog in few fetches
BATCH = 20_000  # records per getmany


class BulkRestoredStore(MemoryStore):  # type: ignore[misc]  # faust is Any to mypy
    """The memory store, whose newly owned changelog partitions are read in bulk by
    a plain consumer, not replayed by Faust (docs/decisions/0010-cold-start.md).

    On a rebalance the store notes the changelog's end
    offsets, reports them as persisted (so Faust's own recovery reads only what
    comes after) and reads up to them in a task, outside the rebalance callback,
    during which the group gets no heartbeat. Records Faust replays meanwhile wait
    until the bulk read is done, so every key ends with its latest value.
    Options: ``bootstrap_servers`` (the consumer's).
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self._held: dict[TP, int] = {}  # owned partition -> last offset held or read
        self._reading: asyncio.Task[None] | None = None
        self._reading_tps: set[TP] = set()
        self._tail: list[EventT] = []  # Faust's replay while a bulk read runs

    def persisted_offset(self, tp: TP) -> int | None:
        """The last changelog offset this store holds (None: read it all)."""
        offset = self._held.get(tp, -1)
        return offset if offset >= 0 else None

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        """Our own changelog write was acknowledged."""
        if tp in self._held:  # never for a partition given away since
            self._held[tp] = max(offset, self._held[tp])

    def __setitem__(self, key: Any, value: Any) -> None:
        event = faust.current_event()
        if event is not None:  # the changelog partition of this key
            self._key_partition[key] = event.message.partition
        self.data[key] = value

    def apply_changelog_batch(self, batch: Iterable[EventT], **kwargs: Any) -> None:
        """Faust's replay: after the bulk read, never before it."""
        if self._reading is not None:
            self._tail.extend(batch)
        else:
            super().apply_changelog_batch(batch, **kwargs)

    async def on_rebalance(
        self,
        assigned: set[TP],
        revoked: set[TP],
        newly_assigned: set[TP],
        generation_id: int = 0,
    ) -> None:
        """Faust's rebalance: own the changelog partitions assigned as actives."""
        topic = self.table.changelog_topic_name
        actives = self.app.assignor.assigned_actives()
        await self.restore({tp for tp in actives if tp.topic == topic})

    async def restore(self, tps: set[TP]) -> None:
        """Hold exactly these changelog partitions; start reading the new ones.

        Returns once their end offsets are known (persisted_offset answers);
        restored() waits for the read itself.
        """
        await self._cancel_reading()
        for tp in set(self._held) - tps:
            self._forget({tp})
        new = tps - set(self._held)
        if not new:
            return
        self._forget(new)
        consumer = self._consumer(len(new))
        await consumer.start()
        try:
            parts = [TopicPartition(tp.topic, tp.partition) for tp in new]
            ends = await consumer.end_offsets(parts)
        except BaseException:
            await consumer.stop()
            raise
        for part in parts:
            self._held[TP(part.topic, part.partition)] = ends[part] - 1
        self._reading = asyncio.create_task(self._read(consumer, ends))
        self._reading_tps = new

    async def restored(self) -> None:
        """Wait until the bulk read is done and Faust's replay after it applied."""
        if self._reading is not None:
            await asyncio.shield(self._reading)
            self._reading = None
            tail, self._tail = self._tail, []
            table = self.table
            super().apply_changelog_batch(
                tail, to_key=table._to_key, to_value=table._to_value
            )

    async def on_recovery_completed(
        self, active_tps: set[TP], standby_tps: set[TP]
    ) -> None:
        await self.restored()
        await super().on_recovery_completed(active_tps, standby_tps)

    async def on_stop(self) -> None:
        await self._cancel_reading()

    async def _cancel_reading(self) -> None:
        """A rebalance during a bulk read: its partitions will be read again."""
        if self._reading is None:
            return
        if not self._reading.done():
            self._reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reading
        self._reading, self._tail = None, []
        self._forget(self._reading_tps)

    def _forget(self, tps: set[TP]) -> None:
        partitions = {tp.partition for tp in tps}
        for tp in tps:
            self._held.pop(tp, None)
        keys = [k for k, p in self._key_partition.items() if p in partitions]
        for key in keys:
            self.data.pop(key, None)
            del self._key_partition[key]

    def _consumer(self, partitions: int) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=(self.options or {})["bootstrap_servers"],
            **(self.options or {}).get("security", {}),
            enable_auto_commit=False,
            max_partition_fetch_bytes=FETCH_BYTES,
            fetch_max_bytes=FETCH_BYTES * partitions,
        )

    async def _read(
        self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]
    ) -> None:
        began = time.monotonic()
        try:
            consumer.assign(list(ends))
            firsts = await consumer.beginning_offsets(list(ends))
            for part, first in firsts.items():
                consumer.seek(part, first)
            left = {p for p in ends if firsts[p] < ends[p]}
            count = 0
            while left:
                batches = await consumer.getmany(
                    *left, timeout_ms=1000, max_records=BATCH
                )
                for part, records in batches.items():
                    ours = [r for r in records if r.offset < ends[part]]
                    self._apply(ours)
                    count += len(ours)
                    if await consumer.position(part) >= ends[part]:
                        left.discard(part)
        finally:
            await consumer.stop()
        _log.info(
            "%s: %d changelog messages read in %.1fs",
            self.table_name,
            count,
            time.monotonic() - began,
        )

    def _apply(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Set or delete each key as Faust's replay of the same records would."""
        schema, app, table = self.table.changelog_topic.schema, self.app, self.table
        data, partitions = self.data, self._key_partition
        for record in records:
            key = table._to_key(schema.loads_key(app, record))
            if record.value is None:
                data.pop(key, None)
                partitions.pop(key, None)
            else:
                data[key] = table._to_value(schema.loads_value(app, record))
                partitions[key] = record.partition


class BulkRestoredTable(faust.Table):  # type: ignore[misc]  # faust is Any to mypy
    """A table kept in a BulkRestoredStore (pass ``options={"bootstrap_servers":}``)."""

    async def restored(self) -> None:
        """Wait until the store's bulk read after the last rebalance is done."""
        await self.data.restored()

    def _new_store(self) -> StoreT:
        return BulkRestoredStore(
            "memory://",
            self.app,
            self,
            table_name=self.name,
            key_type=self.key_type,
            key_serializer=self.key_serializer,
            value_serializer=self.value_serializer,
            value_type=self.value_type,
            loop=self.loop,
            options=self.options,
        )
