"""The ingest service: deliveries in, lines and node costs stored, events out."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import aclosing
from datetime import UTC, date, datetime
from typing import Final
from uuid import UUID

from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.normalize import NormalizedBatch, normalize_file
from finops.domain.focus.usage import read_combined_usage
from finops.errors import ConfigError, InputError, StoreConflictError
from ingest.formats import IngestFormat, node_cost_batches
from ingest.limits import InputLimits, check_gzip
from ingest.models import Delivery, IngestResult, RejectRow, TracedLine
from ingest.outbox import Outbox
from ingest.ports import Publisher, Store
from ingest.publishing import EntrySender, outbox_entries
from ingest.statements import (
    CostDelivery,
    delivery_key,
    parse_rules,
    replace_run,
    store_usage,
    usage_by_partition,
)
from ingest.threads import iterate_in_thread

__all__ = ["IngestService", "Published"]

_log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
Published = dict[str, set[date]]  # source key -> dates to republish
_MAX_TRACE: Final = 10_000
FLUSH_WAIT_S: Final = 10.0  # a delivery waits this long for its events to be sent


def _utc_now() -> datetime:
    return datetime.now(UTC)


class IngestService:
    """Takes deliveries (files, topic batches), stores them, publishes what changed."""

    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        *,
        clock: Clock = _utc_now,
        new_id: Callable[[], UUID] = uuid.uuid4,
        event_batch: int = 5000,
        outbox_every_s: float = 5.0,
        limits: InputLimits | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._new_id = new_id
        self._limits = limits or InputLimits()
        sender = EntrySender(
            store, publisher, clock=clock, new_id=new_id, event_batch=event_batch
        )
        self.outbox = Outbox(store.publish_pending, sender.send, every_s=outbox_every_s)

    async def save_rules(self, text: str) -> str:
        """Validate and keep a rules YAML; returns its id (sha256 of the text)."""
        parse_rules(text)
        rules_id = hashlib.sha256(text.encode()).hexdigest()
        await self._store.save_rules(rules_id, text)
        return rules_id

    async def ingest(self, delivery: Delivery) -> IngestResult:
        """Ingest one file; the same delivery again returns the first result."""
        key = delivery_key(
            delivery.content_hash,
            fmt=delivery.fmt,
            source=delivery.source,
            rules_id=delivery.rules_id,
            profile=delivery.profile,
        )
        found = await self.find(key)
        if found is not None:
            return found
        run = self._new_run(delivery)
        try:
            if delivery.path.suffix.lower() == ".gz":
                await asyncio.to_thread(
                    check_gzip, delivery.path, self._limits, file=delivery.file_name
                )
            if delivery.fmt is IngestFormat.USAGE:
                return await self._ingest_usage(run, key, delivery)
            rules = await self._rules(delivery.rules_id)
            batches = iterate_in_thread(lambda: self._batches(delivery, rules))
            return await self.ingest_batches(
                run, batches, run_key=key, holder_key=_holder(key, run)
            )
        except (InputError, ConfigError) as exc:
            return await self._refuse(run, key, exc)
        except StoreConflictError:
            return await self._taken_meanwhile(key)

    async def ingest_batches(
        self,
        run: IngestResult,
        batches: AsyncGenerator[NormalizedBatch, None],
        *,
        run_key: str,
        holder_key: str,
    ) -> IngestResult:
        """Store normalised batches in one transaction, then publish what changed."""
        delivery = CostDelivery(run, holder_key)
        async with aclosing(batches), self._store.transaction() as writer:
            await writer.insert_run(run, run_key)
            async for batch in batches:
                await delivery.apply(writer, batch)
            result = delivery.result(self._clock())
            await writer.finish_run(result)
            await writer.add_outbox(outbox_entries("cost", delivery.touched, result))
        await self._flush()
        return result

    async def _flush(self) -> None:
        """Publish what the delivery committed; if the broker fails (or does not
        answer within FLUSH_WAIT_S), its entries stay in the outbox and the outbox
        loop sends them later (the answer stands)."""
        try:
            await asyncio.wait_for(self.outbox.flush(), FLUSH_WAIT_S)
        except Exception as exc:  # the broker (or database) is away: sent later
            _log.warning("events of the delivery left in the outbox: %s", exc)
            self.outbox.failure = f"{type(exc).__name__}: {exc}"
            self.outbox.wake.set()

    async def find(self, run_key: str) -> IngestResult | None:
        """The result of a delivery taken before, marked as a duplicate."""
        found = await self._store.find_delivery(run_key)
        return None if found is None else found.model_copy(update={"duplicate": True})

    async def get(self, ingest_id: UUID) -> IngestResult | None:
        """One run by id."""
        return await self._store.get_run(ingest_id)

    async def rejects(self, ingest_id: UUID) -> list[RejectRow]:
        """The rows a run refused."""
        return await self._store.rejects(ingest_id)

    async def lines(
        self, ingest_id: UUID, *, limit: int, offset: int
    ) -> list[TracedLine]:
        """Stored lines of a run, by line number."""
        return await self._store.run_lines(
            ingest_id, limit=min(limit, _MAX_TRACE), offset=offset
        )

    async def trace(
        self, node: str, day: date, dimension: str, *, limit: int = 1000
    ) -> list[TracedLine]:
        """The stored lines a node's cost on a day in a dimension comes from."""
        return await self._store.trace(
            node, day, dimension, limit=min(limit, _MAX_TRACE)
        )

    def new_run(self, **fields: object) -> IngestResult:
        """A run record started now (status succeeded until told otherwise)."""
        base = {
            "ingest_id": self._new_id(),
            "status": "succeeded",
            "started_at": self._clock(),
        }
        return IngestResult.model_validate(base | fields)

    def _new_run(self, delivery: Delivery) -> IngestResult:
        states_nodes = delivery.fmt in (IngestFormat.NODE_COSTS, IngestFormat.USAGE)
        return self.new_run(
            origin=delivery.origin,
            format=str(delivery.fmt),
            source=delivery.stated_by if states_nodes else delivery.source,
            file_name=delivery.file_name,
            content_hash=delivery.content_hash,
            rules_id=delivery.rules_id,
        )

    async def _rules(self, rules_id: str | None) -> MappingRules:
        """The rules a delivery names (the defaults when it names none)."""
        if rules_id is None:
            return MappingRules()
        text = await self._store.rules_body(rules_id)
        if text is None:
            raise ConfigError(f"unknown rules id {rules_id!r}; PUT the rules first")
        return parse_rules(text)

    def _batches(
        self, delivery: Delivery, rules: MappingRules
    ) -> Iterator[NormalizedBatch]:
        if delivery.fmt is IngestFormat.NODE_COSTS:
            return node_cost_batches(delivery.path, source=delivery.stated_by)
        return normalize_file(
            delivery.path,
            rules,
            source=delivery.source,
            profile=delivery.profile,
            bill_format="cur" if delivery.fmt is IngestFormat.CUR else "auto",
            keep_lines=True,
        )

    async def _ingest_usage(
        self, run: IngestResult, key: str, delivery: Delivery
    ) -> IngestResult:
        """Usage figures: each (source, month) they cover is replaced whole."""
        read = await asyncio.to_thread(read_combined_usage, delivery.path)
        async with self._store.transaction() as writer:
            await writer.insert_run(run, key)
            parts = usage_by_partition(read.records, delivery.stated_by)
            stored = await store_usage(writer, parts, _holder(key, run), run.ingest_id)
            named = [r._replace(file=run.file_name) for r in read.rejects]
            await writer.add_rejects(run.ingest_id, named, 0)
            result = replace_run(
                run,
                layout="usage",
                rows_read=read.rows_read,
                rows_accepted=read.rows_read - len(read.rejects),
                rows_rejected=len(read.rejects),
                billing_periods=sorted(p for _, p in parts),
                restated=sorted(stored.restated),
                finished_at=self._clock(),
            )
            await writer.finish_run(result)
            await writer.add_outbox(outbox_entries("usage", stored.touched, result))
        await self._flush()
        return result

    async def _refuse(
        self, run: IngestResult, key: str, exc: Exception
    ) -> IngestResult:
        """Record a refused file; nothing it said was kept."""
        refused = replace_run(
            run,
            status="refused",
            error=_as_the_client_named_it(exc, run.file_name),
            finished_at=self._clock(),
        )
        await self._store.record_run(refused, key)
        return refused

    async def _taken_meanwhile(self, key: str) -> IngestResult:
        """The same delivery was stored concurrently: its result."""
        found = await self._store.find_delivery(key)
        if found is None:
            raise StoreConflictError(f"delivery {key} conflicted and is not stored")
        return found.model_copy(update={"duplicate": True})


def _holder(key: str, run: IngestResult) -> str:
    """Who holds the partitions a delivery states: this run. Its bytes sent again
    after another delivery took a partition are a new run, which clears what the
    earlier run of the same bytes still holds instead of adding to it."""
    return f"{key}:{run.ingest_id}"


def _as_the_client_named_it(exc: Exception, file_name: str) -> str:
    """The error, naming the client's file rather than the server's spool path."""
    if isinstance(exc, InputError) and exc.file is not None:
        exc = InputError(exc.reason, file=file_name, line=exc.line, field=exc.field)
    return str(exc)
