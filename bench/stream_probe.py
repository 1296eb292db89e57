"""Probes of the stream benchmark: worker metrics, process memory, a paced producer."""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from finops.contracts.codec import encode_event
from finops.contracts.events import NodeCostsReported, UsageReported
from finops.contracts.settings import KafkaSettings
from finops.contracts.topics import NODE_COSTS, USAGE, topic_name
from finops.domain.allocation.synth import SynthOptions
from finops.domain.records import NodeCost, UsageRecord
from tests.support.allocator_process import AllocatorProcess


def metric(text: str, name: str) -> dict[str, float]:
    """Samples of one metric family by their label text (summed over workers)."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name):
            labels, value = line[len(name) :].rsplit(" ", 1)
            found[labels] = found.get(labels, 0.0) + float(value)
    return found


class WorkerGroup:
    """Several allocator workers read as one: their metrics texts joined."""

    def __init__(self, workers: list[AllocatorProcess]) -> None:
        self.workers = workers

    def metrics(self) -> str:
        return "\n".join(w.metrics() for w in self.workers)


def lag(worker: AllocatorProcess | WorkerGroup) -> float:
    """Total consumer lag; infinite while the worker does not answer in time."""
    try:
        text = worker.metrics()
    except OSError:
        return float("inf")
    return sum(metric(text, "finops_allocator_consumer_lag_messages").values())


def trace_line(worker: AllocatorProcess | WorkerGroup) -> str:
    """Lag per topic, events routed and applied, dates stored, compute seconds, the
    rest before the next pass."""
    try:
        text = worker.metrics()
    except OSError:
        return "no answer"
    parts = []
    lags = metric(text, "finops_allocator_consumer_lag_messages")
    for labels, value in lags.items():
        parts.append(f"lag:{_topic(labels)}={value:.0f}")
    for labels, value in metric(text, "finops_allocator_events_total").items():
        if "routed" in labels or "applied" in labels:
            kind = "routed" if "routed" in labels else "applied"
            parts.append(f"{kind}:{_topic(labels)}={value:.0f}")
    stored = metric(text, "finops_allocator_days_stored_total")
    parts.append(f"days={sum(stored.values()):.0f}")
    for name, short in (
        ("recompute_duration_seconds", "compute"),
        ("allocate_seconds", "allocate"),
        ("store_seconds", "store"),
        ("pass_seconds", "pass"),
    ):
        took = metric(text, f"finops_allocator_{name}_sum")
        parts.append(f"{short}_s={sum(took.values()):.1f}")
    passes = metric(text, "finops_allocator_pass_seconds_count")
    parts.append(f"passes={sum(passes.values()):.0f}")
    rests = metric(text, "finops_allocator_pass_rest_seconds")
    parts.append(f"rest_s={max(rests.values(), default=0.0):.2f}")
    for labels, value in metric(text, "finops_allocator_rows_written_total").items():
        parts.append(f"rows:{_label(labels)}={value:.0f}")
    return " ".join(parts)


async def uncommitted(bootstrap_servers: str, group: str) -> int:
    """Messages of the group's input topics not yet committed (changelogs aside): the
    broker's view, unlike a worker's lag gauge (which keeps an old high-water mark
    while its fetcher pauses on full buffers)."""
    async with Backlog(bootstrap_servers) as probe:
        return await probe.uncommitted(group)


async def backlog(bootstrap_servers: str, app_id: str) -> int:
    """What the allocator's two groups have not committed: its Faust app's (the
    inputs topic) and its router's (the source topics)."""
    async with Backlog(bootstrap_servers) as probe:
        return await probe.backlog(app_id)


class Backlog:
    """uncommitted/backlog with one admin client and one consumer kept open: asked
    each second, new clients (connections, metadata) would be load of the bench's
    own counted as the broker's CPU."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers, client_id="bench-backlog"
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers, client_id="bench-backlog"
        )

    async def __aenter__(self) -> Backlog:
        await self._admin.start()
        await self._consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def uncommitted(self, group: str) -> int:
        """See uncommitted()."""
        offsets = await self._admin.list_consumer_group_offsets(group)
        committed = {tp: m.offset for tp, m in offsets.items() if m.offset >= 0}
        inputs = [tp for tp in committed if not tp.topic.startswith(f"{group}-")]
        ends = await self._consumer.end_offsets(inputs) if inputs else {}
        return sum(max(0, ends[tp] - committed[tp]) for tp in inputs)

    async def backlog(self, app_id: str) -> int:
        """See backlog()."""
        return await self.uncommitted(app_id) + await self.uncommitted(
            f"{app_id}-router"
        )


def month_options(size: dict[str, int], start: date) -> SynthOptions:
    """The synthetic organisation of the sustained stream (and of its replay)."""
    return SynthOptions(
        nodes=size["nodes"],
        edges=size["edges"],
        days=size["days"],
        dimensions=4,
        seed=11,
        start=start,
    )


def _label(labels: str) -> str:
    """The value of a metric sample's only label."""
    return labels.split("=", 1)[-1].strip('{}"')


def _topic(labels: str) -> str:
    """The short name of the topic in a metric's labels ("node-costs")."""
    found = re.search(r"finops\.([a-z-]+)\.v\d", labels)
    return found[1] if found else labels


def recomputes(worker: AllocatorProcess | WorkerGroup) -> float:
    """Dates recomputed so far (stored or unchanged)."""
    return sum(metric(worker.metrics(), "finops_allocator_days_stored_total").values())


def quantile(buckets: dict[float, float], q: float) -> float:
    """A quantile from cumulative histogram buckets, interpolated linearly."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total == 0:
        return float("nan")
    rank, lower, below = q * total, 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if bound == float("inf"):
                return bound  # beyond the last finite bucket
            share = (rank - below) / max(buckets[bound] - below, 1e-9)
            return lower + (bound - lower) * share
        lower, below = bound, buckets[bound]
    return lower


NODE_LATENCY = "finops_allocator_ingest_to_stored_seconds"
FLOW_LATENCY = "finops_allocator_ingest_to_flows_stored_seconds"
APPLY_LATENCY = "finops_allocator_ingest_to_applied_seconds"
ROUTE_LATENCY = "finops_allocator_ingest_to_routed_seconds"


def latency_buckets(
    worker: AllocatorProcess | WorkerGroup, name: str
) -> dict[float, float]:
    raw = metric(worker.metrics(), f"{name}_bucket")
    return {_upper_bound(k): v for k, v in raw.items()}


def _upper_bound(labels: str) -> float:
    """The `le` of a histogram bucket's labels."""
    found = re.search(r'le="([^"]+)"', labels)
    if found is None:
        raise ValueError(f"not a histogram bucket: {labels}")
    return float(found[1])


class Peaks:
    """Peak resident memory of named processes (with their children), sampled."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids, self.peak = pids, dict.fromkeys(pids, 0)

    def add(self, pids: dict[str, int]) -> None:
        """Name more processes (e.g. a worker's router and compute processes): they
        are counted on their own, no longer in the family of their parent."""
        self.pids.update(pids)
        for name in pids:
            self.peak.setdefault(name, 0)

    def _family(self, name: str, pid: int) -> list[psutil.Process]:
        """The process and its descendants, less the named ones (and theirs)."""
        proc = psutil.Process(pid)
        if name == "bench":
            return [proc]
        named = set(self.pids.values()) - {pid}
        family, stack = [proc], proc.children()
        while stack:
            child = stack.pop()
            if child.pid in named:
                continue
            family.append(child)
            stack.extend(_children(child))
        return family

    def sample(self) -> None:
        for name, pid in self.pids.items():
            try:
                family = self._family(name, pid)
                rss = sum(_rss(p) for p in family)
            except psutil.Error:
                continue
            self.peak[name] = max(self.peak[name], rss)

    def report(self) -> str:
        return ", ".join(f"{n} {v / 2**20:.0f} MiB" for n, v in self.peak.items())

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU seconds so far of each named process and its children
        (live ones, and those it has reaped)."""
        spent: dict[str, float] = {}
        for name, pid in self.pids.items():
            try:
                spent[name] = sum(_cpu(p) for p in self._family(name, pid))
            except psutil.Error:
                continue
        return spent


def _children(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return list(proc.children())
    except psutil.Error:
        return []


def _rss(proc: psutil.Process) -> int:
    try:
        return int(proc.memory_info().rss)
    except psutil.Error:
        return 0


def _cpu(proc: psutil.Process) -> float:
    """User + system CPU seconds of a process and of its children it has reaped."""
    try:
        t = proc.cpu_times()
    except psutil.Error:
        return 0.0
    return float(t.user + t.system + t.children_user + t.children_system)


_SPAWNED = re.compile(r"(router|compute) process (\d+) started")


def helper_processes(log: str, prefix: str) -> dict[str, int]:
    """A worker's router and compute processes, by name, from its log (the last
    started of each)."""
    return {f"{prefix} {kind}": int(pid) for kind, pid in _SPAWNED.findall(log)}


def cpu_report(before: dict[str, float], after: dict[str, float], events: int) -> str:
    """CPU each process spent between two samples, and the platform's efficiency
    (every process but the bench's producer): CPU-seconds per 1,000 events and
    events per CPU-second, figures that hold on any machine size."""
    spent = {n: after[n] - before.get(n, 0.0) for n in after}
    platform = sum(v for n, v in spent.items() if n != "bench")
    parts = ", ".join(f"{n} {v:.1f}s" for n, v in spent.items())
    per_k = platform / events * 1000 if events else float("nan")
    per_s = events / platform if platform else float("nan")
    return (
        f"CPU over the stream and its drain: {parts}; platform {platform:.1f} "
        f"CPU-s = {per_k:.3f} CPU-s per 1,000 events = {per_s:,.0f} events per "
        "CPU-second"
    )


async def stream(
    kafka: KafkaSettings,
    org_ids: tuple[list[str], list[str]],
    days: list[date],
    *,
    rate: int,
    seconds: int,
    tick: Callable[[], Awaitable[None]],
) -> int:
    """Send cost and usage events (one row each, alternating) at `rate` per second."""
    resources, users = org_ids
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, linger_ms=5)
    await producer.start()
    sent, began = 0, time.monotonic()
    costs, usage = (
        topic_name(NODE_COSTS, kafka.topic_namespace),
        topic_name(USAGE, kafka.topic_namespace),
    )
    try:
        while (elapsed := time.monotonic() - began) < seconds:
            due = int(elapsed * rate) - sent
            for _ in range(max(due, 0)):
                day = random.choice(days)
                now = datetime.now(UTC)
                event: NodeCostsReported | UsageReported
                if sent % 2 == 0:
                    event = NodeCostsReported(
                        event_id=uuid.uuid4(),
                        occurred_at=now,
                        source="bench",
                        costs=[
                            NodeCost(
                                node=random.choice(resources),
                                date=day,
                                dimension="compute",
                                amount_micros=random.randint(1, 10**8),
                            )
                        ],
                    )
                    topic = costs
                else:
                    event = UsageReported(
                        event_id=uuid.uuid4(),
                        occurred_at=now,
                        source="bench",
                        usage=[
                            UsageRecord(
                                node=random.choice(users),
                                date=day,
                                metric="requests",
                                value=random.uniform(1, 1000),
                            )
                        ],
                    )
                    topic = usage
                await producer.send(
                    topic, encode_event(event), key=day.isoformat().encode()
                )
                sent += 1
            await tick()
            await asyncio.sleep(0.01)
        await producer.flush()
    finally:
        await producer.stop()
    return sent
