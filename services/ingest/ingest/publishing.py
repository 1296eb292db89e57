"""Events from what is stored: each outbox entry becomes the events it names."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from uuid import UUID

from finops.contracts.dated_events import node_cost_events, usage_events
from finops.contracts.events import RowRejected
from finops.contracts.topics import COST_LINES, NODE_COSTS, dead_letter_of
from ingest.formats import IngestFormat
from ingest.models import IngestResult
from ingest.outbox import Entry, OutboxKind
from ingest.ports import Publisher, Store

__all__ = ["EntrySender", "outbox_entries"]

Published = dict[str, set[date]]  # source key -> dates to republish


def outbox_entries(
    kind: OutboxKind, touched: Published, run: IngestResult
) -> list[Entry]:
    """The outbox entries of a delivery: its touched dates per source key, then its
    refused rows (if any)."""
    entries = [
        Entry(kind, run.ingest_id, key, frozenset(dates))
        for key, dates in sorted(touched.items())
    ]
    if run.rows_rejected:
        entries.append(Entry("rejects", run.ingest_id))
    return entries


class EntrySender:
    """Publishes an outbox entry from the stored state (the whole cost or usage of a
    source key on each date, or a run's refused rows)."""

    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        *,
        clock: Callable[[], datetime],
        new_id: Callable[[], UUID],
        event_batch: int,
    ) -> None:
        self._store, self._publisher = store, publisher
        self._clock, self._new_id, self._event_batch = clock, new_id, event_batch

    async def send(self, entry: Entry) -> None:
        """Publish one entry; returns once the broker has its events."""
        if entry.kind == "rejects":
            run = await self._store.get_run(entry.ingest_id)
            if run is not None:
                await self._publish_rejects(run)
            return
        assert entry.source_key is not None
        touched = {entry.source_key: set(entry.dates)}
        if entry.kind == "cost":
            await self._publish_costs(touched, entry.ingest_id)
        else:
            await self._publish_usage(touched)

    async def _publish_costs(self, touched: Published, ingest_id: UUID) -> None:
        """Each touched date's whole cost per source key, replacing that date."""
        now = self._clock()
        for source_key, dates in sorted(touched.items()):
            costs = await self._store.node_costs(source_key, dates)
            await self._publisher.node_costs(
                node_cost_events(
                    source_key,
                    costs,
                    dates,
                    chunk=self._event_batch,
                    now=now,
                    new_id=self._new_id,
                    ingest_id=ingest_id,
                )
            )

    async def _publish_usage(self, touched: Published) -> None:
        now = self._clock()
        for source_key, dates in sorted(touched.items()):
            usage = await self._store.usage(source_key, dates)
            await self._publisher.usage(
                usage_events(
                    source_key,
                    usage,
                    dates,
                    chunk=self._event_batch,
                    now=now,
                    new_id=self._new_id,
                )
            )

    async def _publish_rejects(self, run: IngestResult) -> None:
        """Refused rows to the dead-letter topic of what the file would have fed."""
        if not run.rows_rejected:
            return
        spec = dead_letter_of(
            COST_LINES if IngestFormat(run.format).is_bill else NODE_COSTS
        )
        now = self._clock()
        events = (
            RowRejected(
                event_id=self._new_id(),
                occurred_at=now,
                source=r.file,
                line=r.line,
                reason=r.reason,
                ingest_id=run.ingest_id,
            )
            for r in await self._store.rejects(run.ingest_id)
        )
        await self._publisher.dead_letters(spec, events)
