"""Where the allocator's CPU goes per event, without a broker or a database.

Run: python bench/bench_hotpath.py [--quick] [--seconds S] [--rate R] [--profile F]

Replays the sustained stream of bench_stream.py through the allocator's own code, in
one process: source events are decoded, routed, the pieces encoded and decoded again
(as they travel through the inputs topic), folded into the input state (whose tables
serialise every value, as Faust's changelog does), and the dirty dates recomputed and
diffed every half second, with the rows and result events built as for the store.
Prints CPU seconds per stage and per event; asserts nothing. Kafka's and PostgreSQL's
own work is not in these figures: bench_stream.py measures the whole path.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import random
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services" / "allocator"))
sys.path.insert(0, str(Path(__file__).parent))

from bench_stream import FULL, QUICK
from stream_probe import month_options

from allocator import gcpolicy
from allocator.announcements import result_messages
from allocator.compute.encoding import ENCODE_NODES_FROM
from allocator.compute.livedays import LiveDays
from allocator.inputs.state import InputState
from allocator.offsets import InputOffset
from allocator.routing.pieces import Reach, route_batch, usage_reach
from finops.adapters.input_feed import (
    cost_events,
    cost_records,
    usage_events,
    usage_records,
)
from finops.contracts.codec import decode_event, encode_event
from finops.contracts.events import NodeCostsReported, UsageReported
from finops.domain.allocation.synth import generate_org
from finops.domain.dag import CostGraph, GraphSpec, build_graph
from finops.domain.records import NodeCost, UsageRecord
from finops.formats.costfile import load_costs
from finops.formats.engine_files import write_org
from finops.formats.inputfiles import load_usage

CYCLE_S = 0.25  # events routed together (the router's batch window)
RECOMPUTE_EVERY = 2  # cycles per recompute pass


class SerialisingTable(dict[str, Any]):
    """A dict that serialises every value set, as a Faust changelog send does."""

    messages = 0
    bytes = 0
    # messages and bytes per kind of key
    by_kind: ClassVar[dict[str, list[int]]] = defaultdict(lambda: [0, 0])

    def __setitem__(self, key: str, value: Any) -> None:
        SerialisingTable.messages += 1
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        SerialisingTable.bytes += len(raw) + len(key)
        kind = SerialisingTable.by_kind[_kind(key)]
        kind[0] += 1
        kind[1] += len(raw) + len(key)
        super().__setitem__(key, value)


def _kind(key: str) -> str:
    """bucket, delta or applied (the table a changelog message is of)."""
    for kind in ("bucket", "delta"):
        if f'"{kind}"' in key:
            return kind
    return "applied"


class Stages:
    """CPU seconds per stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def run(self, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        began = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds[name] += time.process_time() - began


def _stream_events(
    org_ids: tuple[list[str], list[str]], days: list[date], count: int
) -> list[bytes]:
    """The bench's events: one row each, costs and usage alternating."""
    resources, users = org_ids
    rng = random.Random(7)
    out = []
    for i in range(count):
        day, now = rng.choice(days), datetime.now(UTC)
        if i % 2 == 0:
            cost = NodeCost(
                node=rng.choice(resources),
                date=day,
                dimension="compute",
                amount_micros=rng.randint(1, 10**8),
            )
            event: Any = NodeCostsReported(
                event_id=uuid.uuid4(), occurred_at=now, source="bench", costs=[cost]
            )
        else:
            row = UsageRecord(
                node=rng.choice(users),
                date=day,
                metric="requests",
                value=rng.uniform(1, 1000),
            )
            event = UsageReported(
                event_id=uuid.uuid4(), occurred_at=now, source="bench", usage=[row]
            )
        out.append(encode_event(event))
    return out


class HotPath:
    """The allocator's per-event work, stage by stage."""

    def __init__(self, graph: Any, reach: Reach) -> None:
        self.graph, self.reach = graph, reach
        self.state = InputState(SerialisingTable(), SerialisingTable(), {})
        self.live = LiveDays(engines=8, frames=32)
        self.live.encode_nodes_from = ENCODE_NODES_FROM  # as in the compute process
        self.dirty: set[date] = set()
        self.groups = False
        self.stages = Stages()
        self.offset = 0

    def feed(self, raw: list[bytes]) -> None:
        run = self.stages.run
        events = [(run("decode source", decode_event, r), "t/0/0") for r in raw]
        pieces = run("route", route_batch, events, reach=self.reach)
        wire = [run("encode piece", encode_event, p) for p in pieces]
        for data in wire:
            piece = run("decode piece", decode_event, data)
            self.offset += 1
            touched = run("apply", self.state.apply, piece, InputOffset(0, self.offset))
            self.live.touch(piece.charge_date, touched)
            self.dirty.add(piece.charge_date)

    def recompute(self, now: float) -> int:
        run, rows = self.stages.run, 0
        days = sorted(self.dirty)
        if self.groups:  # the dirty dates in one request (decision 0320)
            items = [(d, self.state.days[d], self.live.take(d)) for d in days]
            outcomes = run("compute", self.live.compute_many, self.graph, items)
        else:
            outcomes = [
                run(
                    "compute",
                    self.live.compute,
                    self.graph,
                    day,
                    self.state.days[day],
                    self.live.take(day),
                )
                for day in days
            ]
        for day, computed in zip(days, outcomes, strict=True):
            assert not isinstance(computed, Exception), computed
            delta = computed.delta
            rows += delta.nodes_written + delta.shares_written
            run(
                "announce",
                result_messages,
                day,
                delta,
                run_id=uuid.uuid4(),
                graph_version=1,
                offsets={},
                now=datetime.now(UTC),
            )
        self.dirty.clear()
        return rows


@dataclass(frozen=True)
class Month:
    """The benches' organisation (a month of the sizes of bench_stream.py), the
    events that preload it (its files read as `finops ingest` reads them), and
    what the stream draws from: resources for costs, nodes with usage, the last
    three days."""

    spec: GraphSpec
    graph: CostGraph
    preload: list[NodeCostsReported | UsageReported]
    nodes: tuple[list[str], list[str]]
    recent: list[date]


def month_of(size: dict[str, int], start: date) -> Month:
    """The month `size` describes, from `start`."""
    org = generate_org(month_options(size, start))
    with tempfile.TemporaryDirectory() as work:
        write_org(org, Path(work))
        costs = load_costs(Path(work) / "costs.csv", None)
        usage = load_usage(Path(work) / "usage.csv", None)
    preload: list[NodeCostsReported | UsageReported] = [
        *usage_events(usage_records(usage), source="files"),
        *cost_events(cost_records(costs), source="files"),
    ]
    resources = [n.id for n in org.spec.nodes if n.type == "resource"]
    users = sorted(set(usage.node_ids[n] for n in usage.node.tolist()))
    recent = [start + timedelta(days=size["days"] - k) for k in (1, 2, 3)]
    return Month(org.spec, build_graph(org.spec), preload, (resources, users), recent)


def stream_of(month: Month, rate: int, seconds: float) -> tuple[list[bytes], int]:
    """The stream's events for `seconds` at `rate`, and how many per cycle."""
    per_cycle = int(rate * CYCLE_S)
    cycles = int(seconds / CYCLE_S)
    return _stream_events(month.nodes, month.recent, per_cycle * cycles), per_cycle


def main() -> None:
    gcpolicy.relax()  # as the allocator's entry point does
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=20.0, help="of the stream")
    parser.add_argument("--rate", type=int, help="events per second of the stream")
    parser.add_argument("--profile", help="write a cProfile of the stream here")
    parser.add_argument(
        "--groups",
        action="store_true",
        help="recompute the dirty dates in one request (consecutive ones together)",
    )
    args = parser.parse_args()
    size = QUICK if args.quick else FULL  # the sizes of bench_stream.py
    rate = args.rate or size["rate"]
    month = month_of(size, date(2025, 1, 1))
    path = HotPath(month.graph, usage_reach(month.spec))
    path.groups = args.groups
    began = time.monotonic()
    path.feed([encode_event(e) for e in month.preload])
    path.recompute(0.0)
    print(f"preload: {len(month.preload)} events, {time.monotonic() - began:.1f}s")

    raw, per_cycle = stream_of(month, rate, args.seconds)
    cycles = int(args.seconds / CYCLE_S)
    gcpolicy.settle()  # as the allocator does after recovery
    path.stages = Stages()
    SerialisingTable.messages = SerialisingTable.bytes = 0
    SerialisingTable.by_kind.clear()
    profile = cProfile.Profile() if args.profile else None
    began, rows = time.process_time(), 0
    if profile:
        profile.enable()
    for c in range(cycles):
        path.feed(raw[c * per_cycle : (c + 1) * per_cycle])
        if (c + 1) % RECOMPUTE_EVERY == 0:
            rows += path.recompute((c + 1) * CYCLE_S)
    if profile:
        profile.disable()
        profile.dump_stats(args.profile)
    cpu = time.process_time() - began
    events = len(raw)
    print(
        f"stream: {events} events ({rate}/s for {args.seconds:.0f}s), "
        f"{cpu:.2f} CPU s = {cpu / events * 1e6:.0f} µs/event "
        f"({cpu / args.seconds * 100:.0f}% of one core at {rate}/s); "
        f"{rows} rows to store"
    )
    for name, seconds in sorted(path.stages.seconds.items(), key=lambda x: -x[1]):
        print(f"  {name:<14} {seconds:6.2f}s  {seconds / events * 1e6:6.0f} µs/event")
    print(
        f"  table writes: {SerialisingTable.messages} messages, "
        f"{SerialisingTable.bytes / 2**20:.1f} MiB ("
        + ", ".join(
            f"{kind} {n} / {size / 2**20:.1f} MiB"
            for kind, (n, size) in sorted(SerialisingTable.by_kind.items())
        )
        + ")"
    )


if __name__ == "__main__":
    main()
