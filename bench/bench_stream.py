"""Allocator stream figures: sustained cost+usage events/s, latency, memory, cold start.

Run: python bench/bench_stream.py [--quick]   (or BENCH_QUICK=1, or via `make bench`).
`--warm-up SECONDS` streams that long first, unmeasured: the figures are then those of
warm processes (a young broker's JIT compiler, otherwise, spends CPU in the window).
Starts its own Kafka and PostgreSQL (the `finops dev up` launcher, free ports) and one
allocator worker; prints figures only, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finops.adapters.graphlog import publish_delta, read_graph
from finops.adapters.input_feed import publish_files
from finops.adapters.kafka_admin import ensure_topics
from finops.adapters.migrations import apply_migrations
from finops.contracts.settings import DevStackSettings, KafkaSettings, PostgresSettings
from finops.domain.allocation.synth import SynthOptions, generate_org
from finops.domain.graphdiff import diff_graphs
from finops.formats.engine_files import write_org
from finops.formats.graphfile import load_graph
from finops_tools.devstack import Stack
from tests.support.allocator_process import AllocatorProcess
from tests.support.infrastructure import free_port

sys.path.insert(0, str(Path(__file__).parent))
from cold_probe import cold_start
from stream_probe import (
    APPLY_LATENCY,
    FLOW_LATENCY,
    NODE_LATENCY,
    ROUTE_LATENCY,
    Backlog,
    Peaks,
    WorkerGroup,
    cpu_report,
    helper_processes,
    lag,
    latency_buckets,
    month_options,
    quantile,
    recomputes,
    stream,
    trace_line,
)

FULL = {
    "nodes": 5_000,
    "edges": 20_000,
    "days": 30,
    "rate": 2_000,
    "seconds": 60,
    "cold_nodes": 1_000,
    "cold_days": 365,
}
QUICK = {
    "nodes": 500,
    "edges": 1_500,
    "days": 14,
    "rate": 500,
    "seconds": 15,
    "cold_nodes": 200,
    "cold_days": 90,
}


WORKERS: list[AllocatorProcess] = []  # stopped at the end, whatever happens


def say(text: str) -> None:
    print(text, flush=True)


def _prepare(
    stack: Stack, work: Path, namespace: str, options: SynthOptions
) -> tuple[KafkaSettings, PostgresSettings, Path]:
    """A synthetic organisation published to the stack under its own topic namespace
    and database schema: graph applied, costs and usage sent."""
    kafka = KafkaSettings(
        bootstrap_servers=stack.bootstrap_servers, topic_namespace=namespace
    )
    postgres = PostgresSettings(
        DATABASE_URL=stack.database_url, DATABASE_SCHEMA=namespace
    )
    org = work / namespace
    write_org(generate_org(options), org)
    asyncio.run(_setup(kafka, postgres, org))
    return kafka, postgres, org


async def _setup(kafka: KafkaSettings, postgres: PostgresSettings, org: Path) -> None:
    await ensure_topics(kafka.bootstrap_servers, namespace=kafka.topic_namespace)
    conn = await asyncpg.connect(postgres.database_url)
    try:
        await apply_migrations(
            conn, folder=postgres.migrations_dir, schema=postgres.db_schema
        )
    finally:
        await conn.close()
    log = await read_graph(kafka)
    spec = load_graph(org / "graph.json")
    await publish_delta(kafka, log, diff_graphs(log.spec, spec), spec)
    await publish_files(
        kafka, costs=org / "costs.csv", usage=org / "usage.csv", known=None
    )


async def _stored_days(postgres: PostgresSettings) -> int:
    conn = await asyncpg.connect(
        postgres.database_url, server_settings={"search_path": postgres.db_schema}
    )
    try:
        return int(await conn.fetchval("SELECT count(*) FROM allocator_days"))
    finally:
        await conn.close()


def _ids(org: Path) -> tuple[list[str], list[str]]:
    spec = load_graph(org / "graph.json")
    resources = [n.id for n in spec.nodes if n.type == "resource"]
    users = sorted(
        {
            line.split(",")[0].strip('"')
            for line in (org / "usage.csv").read_text().splitlines()[1:]
        }
    )
    return resources, users


def _wait_stored(
    postgres: PostgresSettings,
    days: int,
    worker: AllocatorProcess | WorkerGroup,
    peaks: Peaks,
) -> float:
    began = time.monotonic()
    while asyncio.run(_stored_days(postgres)) < days or lag(worker) > 0:
        peaks.sample()
        time.sleep(0.5)
    done, quiet = recomputes(worker), time.monotonic()
    while time.monotonic() - quiet < 5:  # the last recomputes (and flows) are written
        peaks.sample()
        time.sleep(0.5)
        if (now := recomputes(worker)) != done:
            done, quiet = now, time.monotonic()
    return time.monotonic() - began


def _drain(worker: AllocatorProcess | WorkerGroup, peaks: Peaks) -> None:
    """Until the worker has read everything sent, then 5 s more: the last
    recompute, and held-back flows, come after the lag reached 0."""
    while lag(worker) > 0:
        peaks.sample()
        time.sleep(0.2)
    time.sleep(5)


async def _events(
    kafka: KafkaSettings,
    org: Path,
    days: list[date],
    size: dict[str, int],
    seconds: int,
    tick: Callable[[], Awaitable[None]],
) -> int:
    """The bench's events, at its rate, for some seconds; how many were sent."""
    return await stream(
        kafka, _ids(org), days, rate=size["rate"], seconds=seconds, tick=tick
    )


def _warm_up(
    kafka: KafkaSettings,
    org: Path,
    recent: list[date],
    size: dict[str, int],
    worker: AllocatorProcess | WorkerGroup,
    peaks: Peaks,
) -> str:
    """The same stream, unmeasured, until everything it sent is stored: the
    figures that follow are those of warm processes (the broker's JIT compiler,
    above all, has compiled what the stream runs)."""
    began = time.monotonic()

    async def idle() -> None:
        peaks.sample()

    sent = asyncio.run(_events(kafka, org, recent, size, size["warm_up"], idle))
    _drain(worker, peaks)
    return (
        f"warm-up: {sent} events at {size['rate']}/s, stored "
        f"{time.monotonic() - began:.1f}s after it began (not measured)"
    )


def sustained(
    stack: Stack, work: Path, size: dict[str, int], trace: TextIO | None = None
) -> None:
    """Preload a month, then stream events at a fixed rate; report what happened."""
    start = date(2025, 1, 1)
    kafka, postgres, org = _prepare(stack, work, "bench", month_options(size, start))
    group = WorkerGroup(
        [
            AllocatorProcess(kafka, postgres, work, name=f"stream-worker-{i}")
            for i in range(size["workers"])
        ]
    )
    WORKERS.extend(group.workers)
    for one in group.workers:
        one.start(timeout_s=300)
    worker = group
    peaks = Peaks(
        {
            f"allocator-{i}": w.proc.pid
            for i, w in enumerate(group.workers)
            if w.proc is not None
        }
        | {"bench": os.getpid()}
        | {row.name: row.pid for row in stack.status() if row.pid}
    )
    preload = _wait_stored(postgres, size["days"], worker, peaks)
    say(
        f"preload: {size['days']} days, {size['nodes']} nodes, {size['edges']} edges "
        f"stored in {preload:.1f}s"
    )
    recent = [start + timedelta(days=size["days"] - k) for k in (1, 2, 3)]
    if size["warm_up"]:
        say(_warm_up(kafka, org, recent, size, worker, peaks))
    parts = {
        "ingest->stored latency of node rows": NODE_LATENCY,
        "ingest->stored latency of flows": FLOW_LATENCY,
        "ingest->applied latency (routed, folded in, not yet allocated)": APPLY_LATENCY,
        "ingest->routed latency (delivered to the inputs topic)": ROUTE_LATENCY,
    }
    before = {name: latency_buckets(worker, metric) for name, metric in parts.items()}
    lags: list[float] = []
    backlogs: list[int] = []
    last = [0.0]
    app_id = f"{kafka.topic_namespace}-finops-allocator"  # its consumer group

    async def tick() -> None:
        if time.monotonic() - last[0] >= 1:
            last[0] = time.monotonic()
            lags.append(lag(worker))  # inf: the worker did not answer within 5 s
            backlogs.append(await probe[0].backlog(app_id))
            peaks.sample()
            if trace is not None:
                line = f"backlog={backlogs[-1]} {trace_line(worker)}"
                trace.write(f"{last[0] - began:.1f} {line}\n")

    for i, one in enumerate(group.workers):  # counted apart from their worker
        peaks.add(helper_processes(one.log.read_text(), f"allocator-{i}"))
    probe: list[Backlog] = []  # one client pair for the stream's ticks

    async def paced() -> int:
        async with Backlog(kafka.bootstrap_servers) as backlog_probe:
            probe.append(backlog_probe)
            return await _events(kafka, org, recent, size, size["seconds"], tick)

    cpu_before = peaks.cpu_seconds()
    began = time.monotonic()
    sent = asyncio.run(paced())
    took = time.monotonic() - began
    drain_began = time.monotonic()
    _drain(worker, peaks)
    drain = time.monotonic() - drain_began
    cpu_after = peaks.cpu_seconds()
    say(
        f"sustained: {sent} events in {took:.1f}s = {sent / took:,.0f} events/s sent "
        f"(target {size['rate']}/s); drained {drain:.1f}s after the last"
    )
    for name, metric in parts.items():
        after = latency_buckets(worker, metric)
        delta = {b: after[b] - before[name].get(b, 0) for b in after}
        say(
            f"{name}: p50 {quantile(delta, 0.5):.2f}s, "
            f"p99 {quantile(delta, 0.99):.2f}s over {delta[float('inf')]:.0f} "
            "observations (histogram buckets, interpolated)"
        )
    say(
        f"consumer lag (messages, sampled each second): max {max(lags or [0]):.0f}, "
        f"last {lags[-1] if lags else 0:.0f} as the worker reports it; "
        f"uncommitted by its groups (the broker's view): max {max(backlogs or [0])}, "
        f"last {backlogs[-1] if backlogs else 0}"
    )
    say(f"peak memory: {peaks.report()}")
    say(cpu_report(cpu_before, cpu_after, sent))
    for one in group.workers:
        one.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--part", choices=("all", "sustained", "cold"), default="all")
    parser.add_argument("--cold-nodes", type=int, help="nodes of the cold-start year")
    parser.add_argument("--cold-days", type=int, help="days of the cold-start state")
    parser.add_argument("--cold-edges", type=int, help="edges (default 3 per node)")
    parser.add_argument("--keep", action="store_true", help="keep logs and state")
    parser.add_argument(
        "--workers", type=int, default=1, help="allocator workers of the sustained part"
    )
    parser.add_argument("--rate", type=int, help="events per second of the stream")
    parser.add_argument(
        "--warm-up",
        type=int,
        default=0,
        metavar="SECONDS",
        help="stream this long first, unmeasured (figures of warm processes)",
    )
    parser.add_argument(
        "--trace", help="write the workers' lag and counters each second here"
    )
    args = parser.parse_args()
    quick = args.quick or os.environ.get("BENCH_QUICK") == "1"
    size = dict(QUICK if quick else FULL)
    for name in ("cold_nodes", "cold_days", "cold_edges"):
        size[name] = getattr(args, name) or size.get(name, 3 * size["cold_nodes"])
    size["workers"] = args.workers
    size["rate"] = args.rate or size["rate"]
    size["warm_up"] = args.warm_up
    say(f"mode: {'quick' if quick else 'full'} {size}")
    work = Path(tempfile.mkdtemp(prefix="finops-bench-stream-"))
    settings = DevStackSettings(
        state_dir=work / "stack",
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        postgres_port=free_port(),
        start_timeout_s=180,
        kafka_heap="1g",
    )
    stack = Stack(settings)
    try:
        stack.up(services=False, progress=lambda _: None)
        if args.part in ("all", "sustained"):
            with contextlib.ExitStack() as files:
                trace = (
                    files.enter_context(open(args.trace, "w")) if args.trace else None
                )
                sustained(stack, work, size, trace)
        if args.part in ("all", "cold"):
            cold_start(
                stack,
                work,
                size,
                prepare=_prepare,
                wait_stored=_wait_stored,
                say=say,
                workers=WORKERS,
            )
    finally:
        for worker in WORKERS:
            with contextlib.suppress(AssertionError):  # killed if it hangs
                worker.stop()
        stack.down(progress=lambda _: None)
        if args.keep:
            say(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
