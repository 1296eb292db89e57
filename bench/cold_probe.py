"""The bench's cold-start part: a year of state, SIGKILL, time to owned state."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from stream_probe import Peaks, backlog, lag, metric

from finops.contracts.settings import KafkaSettings, PostgresSettings
from finops.domain.allocation.synth import SynthOptions
from finops_tools.devstack import Stack
from tests.support.allocator_process import AllocatorProcess

__all__ = ["RestartPhases", "cold_start", "restart_phases", "wait_committed"]

GROUP = "cold-finops-allocator"  # the cold part's namespace and the allocator's app id
COMPACTION_WAIT_S = 30  # the broker's log cleaner looks every 15 s
RECOMPUTE_WAIT_S = 5

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
_READ = re.compile(r"(\w+): (\d+) changelog messages read in ([\d.]+)s")


def wait_committed(bootstrap_servers: str, group: str, *, timeout_s: float) -> float:
    """Wait until the worker committed everything it consumed; returns seconds."""
    began = time.monotonic()
    while asyncio.run(backlog(bootstrap_servers, group)) > 0:
        if time.monotonic() - began > timeout_s:
            raise TimeoutError(f"{group} did not commit within {timeout_s:.0f}s")
        time.sleep(1)
    return time.monotonic() - began


@dataclass
class RestartPhases:
    """Seconds after the process start, from the worker's log."""

    joined: float  # group joined and partitions assigned
    owned: float  # changelogs read, state rebuilt, partitions owned
    messages: int  # changelog messages read in bulk
    read_s: float  # the longest table's bulk read


def restart_phases(log_text: str, started: float) -> RestartPhases:
    """Phases of the restart whose log is log_text (started: time.time() at spawn)."""
    joined = owned = float("nan")
    messages, read_s = 0, 0.0
    for line in log_text.splitlines():
        stamp = _STAMP.match(line)
        if stamp is None:
            continue
        at = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if "Successfully synced group" in line and joined != joined:
            joined = at - started
        elif (read := _READ.search(line)) is not None:
            messages += int(read.group(2))
            read_s = max(read_s, float(read.group(3)))
        elif "owns partitions" in line and owned != owned:
            owned = at - started
    return RestartPhases(joined, owned, messages, read_s)


def cold_start(
    stack: Stack,
    work: Path,
    size: dict[str, int],
    *,
    prepare: Callable[
        [Stack, Path, str, SynthOptions], tuple[KafkaSettings, PostgresSettings, Path]
    ],
    wait_stored: Callable[[PostgresSettings, int, AllocatorProcess, Peaks], float],
    say: Callable[[str], None],
    workers: list[AllocatorProcess],
) -> None:
    """A year of state in the changelogs; time from start to owning recovered state."""
    options = SynthOptions(
        nodes=size["cold_nodes"],
        edges=size["cold_edges"],
        days=size["cold_days"],
        dimensions=4,
        seed=5,
    )
    kafka, postgres, _ = prepare(stack, work, "cold", options)
    worker = AllocatorProcess(kafka, postgres, work, name="cold-worker")
    workers.append(worker)  # stopped by the caller, whatever happens
    worker.start(timeout_s=300)
    assert worker.proc is not None  # started above
    peaks = Peaks({"allocator": worker.proc.pid})
    loaded = wait_stored(postgres, size["cold_days"], worker, peaks)
    # A kill before the offsets are committed makes the restart redo that work too;
    # the figure is about recovering a year of state, so the worker is idle first.
    committed = wait_committed(kafka.bootstrap_servers, GROUP, timeout_s=1800)
    time.sleep(COMPACTION_WAIT_S)
    say(
        f"year state: {size['cold_days']} days of {size['cold_nodes']} nodes "
        f"({size['cold_edges']} edges) "
        f"processed in {loaded:.1f}s, committed {committed:.1f}s later "
        f"(peak {peaks.report()}); {COMPACTION_WAIT_S}s for the log cleaner"
    )
    worker.stop(signal.SIGKILL)  # a crash: recovery from the changelogs alone
    before = worker.log.read_text()
    started = time.time()
    worker.start(timeout_s=600)
    while "owns partitions" not in worker.log.read_text()[len(before) :]:
        time.sleep(0.1)
    phases = restart_phases(worker.log.read_text()[len(before) :], started)
    while lag(worker) > 0:
        time.sleep(0.2)
    caught_up = time.time() - started
    time.sleep(RECOMPUTE_WAIT_S)  # dates found stale after recovery would be redone
    stored = metric(worker.metrics(), "finops_allocator_days_stored_total")
    redone = ", ".join(f"{k.strip('{}')} {v:.0f}" for k, v in stored.items()) or "none"
    say(
        f"cold start after SIGKILL: partitions owned {phases.owned:.1f}s after "
        f"start (target < 60s): group joined at {phases.joined:.1f}s, "
        f"{phases.messages:,} changelog messages read in bulk "
        f"(longest table {phases.read_s:.1f}s); lag 0 at {caught_up:.1f}s; "
        f"dates recomputed in the next {RECOMPUTE_WAIT_S}s: {redone}"
    )
    worker.stop()
