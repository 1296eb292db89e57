"""In-memory stand-ins for the ingest service's store and publisher (unit tests)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from uuid import UUID

import pyarrow as pa

from finops.contracts.events import NodeCostsReported, RowRejected, UsageReported
from finops.contracts.topics import TopicSpec
from finops.domain.focus.rejects import Reject
from finops.domain.focus.restatement import PartitionKey
from finops.domain.records import NodeCost, UsageRecord
from ingest.models import IngestResult, RejectRow, TracedLine
from ingest.outbox import Entry, Send

__all__ = ["InMemoryIngestStore", "IngestState", "MemoryWriter", "RecordingPublisher"]


@dataclass
class IngestState:
    """Everything the fake store holds; copied at the start of a transaction."""

    runs: dict[UUID, IngestResult] = field(default_factory=dict)
    keys: dict[str, UUID] = field(default_factory=dict)
    held: dict[tuple[str, PartitionKey], str] = field(default_factory=dict)
    lines: dict[UUID, list[dict[str, Any]]] = field(default_factory=dict)
    # Exact node costs in pico-units (10^-12), rounded once when read, as the store.
    costs: dict[tuple[str, str, date, str], int] = field(default_factory=dict)
    usage: dict[tuple[str, str, date, str], UsageRecord] = field(default_factory=dict)
    rejects: dict[UUID, list[Reject]] = field(default_factory=dict)
    months: set[date] = field(default_factory=set)
    rules: dict[str, str] = field(default_factory=dict)
    outbox: list[Entry] = field(default_factory=list)  # pending entries


class MemoryWriter:
    """The Writer of one fake transaction, over a copy of the state."""

    def __init__(self, state: IngestState) -> None:
        self.state = state

    async def insert_run(self, run: IngestResult, delivery_key: str) -> None:
        self.state.runs[run.ingest_id] = run
        if run.status == "succeeded":
            self.state.keys[delivery_key] = run.ingest_id

    async def finish_run(self, run: IngestResult) -> None:
        self.state.runs[run.ingest_id] = run

    async def held_partition(self, kind: str, key: PartitionKey) -> str | None:
        return self.state.held.get((kind, key))

    async def hold_partition(
        self, kind: str, key: PartitionKey, delivery_key: str, ingest_id: UUID
    ) -> None:
        self.state.held[(kind, key)] = delivery_key

    async def clear_cost_partition(
        self, key: PartitionKey, source_key: str
    ) -> set[date]:
        for run_lines in self.state.lines.values():
            run_lines[:] = [r for r in run_lines if _partition(r) != key]
        return _pop_keys(self.state.costs, source_key)

    async def clear_usage(self, source_key: str) -> set[date]:
        return _pop_keys(self.state.usage, source_key)

    async def ensure_months(self, months: Iterable[date]) -> None:
        self.state.months.update(months)

    async def copy_lines(self, ingest_id: UUID, lines: pa.Table) -> None:
        self.state.lines.setdefault(ingest_id, []).extend(lines.to_pylist())

    async def add_node_costs(self, source_key: str, costs: pa.Table) -> None:
        for row in costs.to_pylist():
            key = (source_key, row["node"], row["date"], row["dimension"])
            exact = row["amount_micros"] * 10**6 + row["amount_picos"]
            self.state.costs[key] = self.state.costs.get(key, 0) + exact

    async def add_usage(self, source_key: str, records: Sequence[UsageRecord]) -> None:
        for r in records:
            self.state.usage[(source_key, r.node, r.date, r.metric)] = r

    async def add_rejects(
        self, ingest_id: UUID, rejects: Sequence[Reject], start: int
    ) -> None:
        self.state.rejects.setdefault(ingest_id, []).extend(rejects)

    async def add_outbox(self, entries: Iterable[Entry]) -> None:
        self.state.outbox.extend(entries)


class InMemoryIngestStore:
    """A Store whose transactions commit by swapping in the changed copy."""

    def __init__(self) -> None:
        self.state = IngestState()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[MemoryWriter]:
        writer = MemoryWriter(copy.deepcopy(self.state))
        yield writer  # an exception skips the swap: nothing is kept
        self.state = writer.state

    async def publish_pending(self, send: Send) -> int:
        """Send pending entries in order; each is removed once sent."""
        sent = 0
        while self.state.outbox:
            await send(self.state.outbox[0])
            self.state.outbox.pop(0)
            sent += 1
        return sent

    async def save_rules(self, rules_id: str, body: str) -> None:
        self.state.rules[rules_id] = body

    async def rules_body(self, rules_id: str) -> str | None:
        return self.state.rules.get(rules_id)

    async def find_delivery(self, delivery_key: str) -> IngestResult | None:
        found = self.state.keys.get(delivery_key)
        return None if found is None else self.state.runs[found]

    async def get_run(self, ingest_id: UUID) -> IngestResult | None:
        return self.state.runs.get(ingest_id)

    async def record_run(self, run: IngestResult, delivery_key: str) -> None:
        self.state.runs[run.ingest_id] = run

    async def rejects(self, ingest_id: UUID) -> list[RejectRow]:
        found = self.state.rejects.get(ingest_id, [])
        return [RejectRow(file=r.file, line=r.line, reason=r.reason) for r in found]

    async def trace(
        self, node: str, day: date, dimension: str, *, limit: int
    ) -> list[TracedLine]:
        raise NotImplementedError("tracing is covered by the integration tests")

    async def run_lines(
        self, ingest_id: UUID, *, limit: int, offset: int
    ) -> list[TracedLine]:
        raise NotImplementedError("line listing is covered by the integration tests")

    async def node_costs(
        self, source_key: str, dates: Iterable[date]
    ) -> dict[date, list[NodeCost]]:
        wanted = set(dates)
        found: dict[date, list[NodeCost]] = {}
        for (source, node, day, dim), picos in sorted(self.state.costs.items()):
            if source == source_key and day in wanted:
                micros = int(
                    (Decimal(picos) / 10**6).to_integral_value(ROUND_HALF_EVEN)
                )
                cost = NodeCost(
                    node=node, date=day, dimension=dim, amount_micros=micros
                )
                found.setdefault(day, []).append(cost)
        return found

    async def usage(
        self, source_key: str, dates: Iterable[date]
    ) -> dict[date, list[UsageRecord]]:
        wanted = set(dates)
        found: dict[date, list[UsageRecord]] = {}
        for (source, _, day, _), record in sorted(self.state.usage.items()):
            if source == source_key and day in wanted:
                found.setdefault(day, []).append(record)
        return found

    def line_count(self) -> int:
        """Lines stored over all runs."""
        return sum(len(lines) for lines in self.state.lines.values())


class RecordingPublisher:
    """A Publisher that keeps (topic, key, event) in the order sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, object]] = []

    async def node_costs(self, events: Iterable[tuple[date, NodeCostsReported]]) -> int:
        return self._keep("node-costs", ((d.isoformat(), e) for d, e in events))

    async def usage(self, events: Iterable[tuple[date, UsageReported]]) -> int:
        return self._keep("usage", ((d.isoformat(), e) for d, e in events))

    async def dead_letters(self, spec: TopicSpec, events: Iterable[RowRejected]) -> int:
        return self._keep(spec.name, ((e.source, e) for e in events))

    def _keep(self, topic: str, keyed: Iterable[tuple[str, object]]) -> int:
        before = len(self.sent)
        self.sent += [(topic, key, event) for key, event in keyed]
        return len(self.sent) - before

    def events(self, topic: str) -> list[Any]:
        """The events sent to a topic, in order."""
        return [event for name, _, event in self.sent if name == topic]


def _partition(row: dict[str, Any]) -> PartitionKey:
    return row["source"], row["billing_period_start"].date()


def _pop_keys(
    table: dict[tuple[str, str, date, str], Any], source_key: str
) -> set[date]:
    """Remove a source key's entries; the dates they were on."""
    gone = [k for k in table if k[0] == source_key]
    for key in gone:
        del table[key]
    return {k[2] for k in gone}
