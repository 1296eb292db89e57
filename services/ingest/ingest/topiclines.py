"""Lines outside producers write to the cost-lines topic, taken like uploads."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from finops.contracts.events import CostLinesNormalized
from finops.domain.focus.mapping import MappingRules
from finops.domain.focus.normalize import NormalizedBatch, normalize_file
from finops.formats.costlines import records_to_focus_csv
from ingest.models import IngestResult
from ingest.service import IngestService
from ingest.threads import iterate_in_thread

__all__ = ["CostLinesHandler"]


class CostLinesHandler:
    """One event = one batch of a producer's delivery (`ingest_id`) of a source.

    Batches of one delivery add up; a new delivery for the same source and billing
    period replaces the previous one; the same event twice changes nothing.
    """

    def __init__(
        self, service: IngestService, *, spool_dir: Path, rules: MappingRules
    ) -> None:
        self._service = service
        self._spool = spool_dir
        self._rules = rules

    async def handle(self, event: CostLinesNormalized, *, topic: str) -> IngestResult:
        """Map the event's lines to nodes, store and publish them."""
        run_key = f"event:{event.event_id}"
        found = await self._service.find(run_key)
        if found is not None:
            return found
        folder = self._spool / f"event-{event.event_id}"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            path = folder / "lines.csv"
            path.write_bytes(records_to_focus_csv(event.lines))
            run = self._run(event, topic)
            batches = iterate_in_thread(lambda: self._batches(path, event))
            return await self._service.ingest_batches(
                run,
                batches,
                run_key=run_key,
                holder_key=f"topic:{event.source}:{event.ingest_id}",
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _run(self, event: CostLinesNormalized, topic: str) -> IngestResult:
        return self._service.new_run(
            origin="topic",
            format="cost-lines",
            source=event.source,
            file_name=f"{topic}/{event.source}/{event.ingest_id}",
            content_hash=event.event_id.hex,
        )

    def _batches(
        self, path: Path, event: CostLinesNormalized
    ) -> Iterator[NormalizedBatch]:
        """Normalised batches numbered by the producer's own line numbers."""
        numbers = np.array([0, 0, *(r.line for r in event.lines)], dtype=np.int64)
        for batch in normalize_file(
            path, self._rules, source=event.source, keep_lines=True
        ):
            yield _renumbered(batch, numbers)


def _renumbered(batch: NormalizedBatch, numbers: np.ndarray) -> NormalizedBatch:
    """Lines and rejects of the written file renamed to the records' own lines."""
    rejects = tuple(r._replace(line=int(numbers[r.line])) for r in batch.rejects)
    lines = batch.lines
    if lines is not None:
        own = pa.array(numbers[lines["line"].to_numpy()], pa.int64())
        lines = lines.set_column(lines.schema.get_field_index("line"), "line", own)
    return replace(batch, lines=lines, rejects=rejects)
