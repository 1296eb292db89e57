"""A watched folder: files dropped in are ingested, then moved to done/ or failed/."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from finops.domain.focus.bills import identify_file
from finops.errors import FinopsError
from ingest.formats import sniff_format
from ingest.metrics import observe_delivery
from ingest.models import Delivery, IngestResult

__all__ = ["DropFolder"]

_log = logging.getLogger(__name__)
_IGNORED_SUFFIXES = (".part", ".tmp", ".partial")
Ingest = Callable[[Delivery], Awaitable[IngestResult]]


class DropFolder:
    """Polls a folder; a file is taken once its size and mtime hold still for a poll."""

    def __init__(
        self,
        ingest: Ingest,
        *,
        root: Path,
        poll_s: float,
        source: str | None = None,
        rules_id: str | None = None,
    ) -> None:
        self._ingest = ingest
        self._root = root
        self._poll_s = poll_s
        self._source = source
        self._rules_id = rules_id
        self._seen: dict[Path, tuple[int, int]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Create the folders (they may not exist yet) and start polling."""
        for folder in (self._root, self._root / "done", self._root / "failed"):
            folder.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.create_task(self._loop(), name="drop-folder")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await self.scan_once()
            except Exception:  # the store or broker failed: the file stays, retried
                _log.exception("drop folder scan failed")
            await asyncio.sleep(self._poll_s)

    async def scan_once(self) -> list[IngestResult]:
        """Ingest every file that held still since the previous scan."""
        results = []
        for path in sorted(self._root.iterdir()):
            if self._is_ready(path) and (result := await self._take(path)) is not None:
                results.append(result)
        return results

    def _is_ready(self, path: Path) -> bool:
        if (
            not path.is_file()
            or path.name.startswith(".")
            or path.suffix in _IGNORED_SUFFIXES
        ):
            return False
        stat = path.stat()
        now = (stat.st_size, stat.st_mtime_ns)
        ready = self._seen.get(path) == now
        self._seen[path] = now
        return ready

    async def _take(self, path: Path) -> IngestResult | None:
        """Ingest one file and move it away with its outcome."""
        self._seen.pop(path, None)
        started = time.perf_counter()
        try:
            result = await self._ingest(await asyncio.to_thread(self._delivery, path))
        except FinopsError as exc:
            _move(path, self._root / "failed", str(exc))
            return None
        observe_delivery(result, time.perf_counter() - started)
        target = "failed" if result.status == "refused" else "done"
        _move(
            path, self._root / target, result.error or result.model_dump_json(indent=2)
        )
        return result

    def _delivery(self, path: Path) -> Delivery:
        identity = identify_file(path)
        return Delivery(
            path=path,
            file_name=path.name,
            fmt=sniff_format(path),
            content_hash=identity.content_hash,
            origin="drop",
            source=self._source,
            rules_id=self._rules_id,
        )


def _move(path: Path, folder: Path, note: str) -> None:
    """Move a file into a folder with a note beside it (reason or result)."""
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}.{time.time_ns()}{path.suffix}"
    os.replace(path, target)
    suffix = ".reason.txt" if folder.name == "failed" else ".result.json"
    target.with_name(target.name + suffix).write_text(note + "\n", encoding="utf-8")
