"""Periodic usage pulls from Prometheus, ingested as usage files (origin `pull`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from finops.adapters.prometheus import PrometheusClient, pull_usage
from finops.domain.focus.bills import identify_file
from finops.domain.usage_pull import PullSpec, periodic_window
from finops.errors import FinopsError
from finops.formats.usagefile import write_usage_file
from ingest.formats import IngestFormat
from ingest.metrics import PULLS, observe_delivery
from ingest.models import Delivery, IngestResult

__all__ = ["UsagePuller"]

_log = logging.getLogger(__name__)
Ingest = Callable[[Delivery], Awaitable[IngestResult]]
Today = Callable[[], date]


def _utc_today() -> date:
    return datetime.now(UTC).date()


class UsagePuller:
    """Runs each pull at start and then every `interval`; each run restates the
    months from `lookback_days` ago to yesterday (docs/ingest.md)."""

    def __init__(
        self,
        ingest: Ingest,
        client: PrometheusClient,
        pulls: Sequence[PullSpec],
        *,
        spool_dir: Path,
        today: Today = _utc_today,
    ) -> None:
        self._ingest = ingest
        self._client = client
        self._pulls = tuple(pulls)
        self._spool_dir = spool_dir
        self._today = today
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """One task per pull."""
        self._tasks = [
            asyncio.create_task(self._loop(spec), name=f"pull-{spec.name}")
            for spec in self._pulls
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self, spec: PullSpec) -> None:
        while True:
            try:
                await self.run_once(spec)
            except FinopsError as exc:  # Prometheus or the store failed: next time
                PULLS.labels(spec.name, "failed").inc()
                _log.warning("usage pull %s failed: %s", spec.name, exc)
            except Exception:
                PULLS.labels(spec.name, "failed").inc()
                _log.exception("usage pull %s failed", spec.name)
            await asyncio.sleep(spec.interval_s)

    async def run_once(self, spec: PullSpec) -> IngestResult | None:
        """Pull the window's days and ingest them as one usage delivery."""
        window = periodic_window(self._today(), spec.lookback_days)
        if window is None:
            return None
        first, last = window
        pulled = await pull_usage(self._client, spec, first, last)
        for labels in pulled.unmapped:
            _log.warning("usage pull %s: series %s has no node", spec.name, labels)
        folder = self._spool_dir / uuid.uuid4().hex
        folder.mkdir(parents=True)
        try:
            path = write_usage_file(
                pulled.rows, folder / f"prometheus-{spec.name}-{first}-{last}.csv"
            )
            started = time.perf_counter()
            result = await self._ingest(_delivery(path, spec))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        observe_delivery(result, time.perf_counter() - started)
        PULLS.labels(spec.name, result.status).inc()
        return result


def _delivery(path: Path, spec: PullSpec) -> Delivery:
    return Delivery(
        path=path,
        file_name=path.name,
        fmt=IngestFormat.USAGE,
        content_hash=identify_file(path).content_hash,
        origin="pull",
        source=spec.source_name,
    )
