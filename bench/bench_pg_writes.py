"""PostgreSQL's CPU for the allocator's writes, per row and per event (issue 19).

Replays the sustained stream's writes (bench_hotpath's stream: the sizes of
bench_stream.py) through `PostgresResultStore` into an embedded PostgreSQL started
by the devstack (migrated), on one connection, and reads that backend's CPU from
/proc/<pid>/stat (utime + stime) around each write. Prints CPU per event, per row
(node rows, share sets) and the HOT share of updates from pg_stat_user_tables.

    .venv/bin/python bench/bench_pg_writes.py --seconds 10

Counts are exact; CPU is noisy on a shared machine (run it a few times).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import asyncpg
from bench_hotpath import CYCLE_S, RECOMPUTE_EVERY, HotPath, month_of, stream_of
from bench_stream import FULL, QUICK

from allocator import gcpolicy
from allocator.ports import DayWrite
from allocator.routing.pieces import usage_reach
from allocator.store import PostgresResultStore
from finops.contracts.codec import encode_event
from tests.support.infrastructure import local_postgres

TICK = os.sysconf("SC_CLK_TCK")
_STATS = """
SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, n_dead_tup
FROM pg_stat_user_tables
WHERE relname IN ('allocation_results', 'allocation_share_groups')
ORDER BY relname"""


class Collecting(HotPath):
    """The hot path, keeping each recomputed date's write instead of announcing it."""

    writes: list[DayWrite]

    def recompute(self, now: float) -> int:
        rows = 0
        for day in sorted(self.dirty):
            computed = self.live.compute(
                self.graph, day, self.state.days[day], self.live.take(day)
            )
            delta = computed.delta
            rows += delta.nodes_written + delta.shares_written
            self.writes.append(DayWrite(day, delta, uuid.uuid4(), 1, None))
        self.dirty.clear()
        return rows


async def _stats(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """The tables' counters with this backend's pending statistics flushed (they are
    flushed when it goes idle after the forcing statement)."""
    await pool.execute("SELECT pg_stat_force_next_flush()")
    await asyncio.sleep(0.2)
    return list(await pool.fetch(_STATS))


def backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


async def replay(url: str, preload: list[DayWrite], stream: list[DayWrite]) -> float:
    """Write the preload, then the stream; print its figures; the stream's CPU s."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    try:
        store = PostgresResultStore(pool)
        pid = await pool.fetchval("SELECT pg_backend_pid()")
        for write in preload:
            await store.write_results(write)
        before = {r["relname"]: r for r in await _stats(pool)}
        cpu0, wall0 = backend_cpu(pid), time.monotonic()
        nodes = sets = 0
        for write in stream:
            await store.write_results(write)
            nodes += write.delta.nodes_written
            sets += write.delta.shares_written
        cpu = backend_cpu(pid) - cpu0
        wall = time.monotonic() - wall0
        stats = await _stats(pool)
    finally:
        await pool.close()
    print(
        f"stream writes: {len(stream)} date writes, {nodes:,} node rows, "
        f"{sets:,} share rows (sets); backend {cpu:.2f} CPU s in {wall:.1f} s; "
        f"{cpu / max(nodes + sets, 1) * 1e6:.2f} µs/row"
    )
    for r in stats:
        b = before.get(r["relname"])
        ins, upd, hot, dele = (
            r[k] - (b[k] if b else 0)
            for k in ("n_tup_ins", "n_tup_upd", "n_tup_hot_upd", "n_tup_del")
        )
        print(
            f"  {r['relname']}: ins {ins:,} upd {upd:,} (HOT {hot / max(upd, 1):.0%})"
            f" del {dele:,} dead now {r['n_dead_tup']:,}"
        )
    return cpu


def main() -> None:
    gcpolicy.relax()
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=10.0, help="of the stream")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    month = month_of(size, date(2025, 1, 1))
    path = Collecting(month.graph, usage_reach(month.spec))
    path.writes = []
    path.feed([encode_event(e) for e in month.preload])
    path.recompute(0.0)
    first = path.writes
    path.writes = []
    raw, per_cycle = stream_of(month, size["rate"], args.seconds)
    cycles = int(args.seconds / CYCLE_S)
    for c in range(cycles):
        path.feed(raw[c * per_cycle : (c + 1) * per_cycle])
        if (c + 1) % RECOMPUTE_EVERY == 0:
            path.recompute((c + 1) * CYCLE_S)
    print(f"computed: {len(first)} preload writes, {len(path.writes)} stream writes")
    with (
        tempfile.TemporaryDirectory() as work,
        local_postgres(Path(work), migrate=True) as database_url,
    ):
        cpu = asyncio.run(replay(database_url, first, path.writes))
    events = len(raw)
    print(
        f"{events} events: PostgreSQL {cpu / events * 1e3 * 1e3:.0f} CPU ms "
        f"per 1,000 events"
    )


if __name__ == "__main__":
    main()
