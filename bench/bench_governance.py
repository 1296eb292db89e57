"""Benchmark governance on the real stack. Figures, not asserts.

Starts Kafka and PostgreSQL with the devstack code on free ports, the ingest and
governance services as processes and a webhook receiver
(`finops_tools.cloudsim.receiver`, which verifies every signature with the
`standardwebhooks` package).

    python bench/bench_governance.py --part latency    # cost event ingested -> webhook
    python bench/bench_governance.py --part evaluate   # 10,000 budgets after one batch
    python bench/bench_governance.py --part outage     # receiver down, then up
    python bench/bench_governance.py --part kill       # SIGKILL during deliveries
    python bench/bench_governance.py                   # all four
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest_stack import _free_port, _stack

from finops.adapters.governance_store import apply_governance
from finops.formats.governancefile import parse_governance
from finops_tools.cloudsim.focusfile import HourLine, Resource, render_csv
from governance.service import BudgetEvaluator
from governance.store import GovernanceStore

SECRET: Final = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOV: Final = datetime(2026, 11, 1, tzinfo=UTC)


def _resource(run: int, hourly: str) -> Resource:
    return Resource(
        f"i-{run}",
        f"vm-{run}",
        "Virtual Machine",
        "Microsoft",
        "Virtual Machines",
        "Compute",
        "westeurope",
        "ea-1",
        "sub-1",
        Decimal(hourly),
        {"run": str(run)},
    )


def _file(budget_ids: list[str], hook_port: int, percent: int = 50) -> str:
    budgets = "\n".join(
        f"""  - id: {ident}
    name: {ident}
    amount: "1"
    scope: {{filter: {{Tags.run: "{ident.rsplit("-", 1)[1]}"}}}}
    thresholds: [{{percent: {percent}}}]"""
        for ident in budget_ids
    )
    return f"""budgets:
{budgets}
webhooks:
  - id: bench
    url: http://127.0.0.1:{hook_port}/hook
    secret: {SECRET}
    events: [budget.alert, budget.resolved]
"""


@contextmanager
def _process(
    command: list[str], env: dict[str, str], log: Path, url: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        if url:
            _healthy(url, process, log)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def _healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(1200):
        if process.poll() is not None:
            raise SystemExit(
                f"{url}: exited while starting:\n{log.read_text()[-2000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not start")


def _service(module: str, prefix: str, env: dict[str, str], root: Path) -> Any:
    port = _free_port()
    return _process(
        [sys.executable, "-m", module],
        {**env, f"{prefix}HTTP_PORT": str(port)},
        root / f"{module}.log",
        f"http://127.0.0.1:{port}",
    ), f"http://127.0.0.1:{port}"


def _receiver(port: int, record: Path, root: Path, delay_s: float = 0.0) -> Any:
    command = [
        sys.executable,
        "-m",
        "finops_tools.cloudsim.receiver",
        "--port",
        str(port),
        "--secret",
        SECRET,
        "--record",
        str(record),
        "--delay-s",
        str(delay_s),
    ]
    return _process(command, os.environ.copy(), root / f"receiver-{port}.log")


def _upload(ingest: str, source: str, lines: list[HourLine]) -> float:
    """POST one FOCUS file; returns the time (epoch s) the upload was answered."""
    request = urllib.request.Request(
        f"{ingest}/ingests?filename={source}.csv&source={source}&format=focus",
        data=render_csv(lines).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        result = json.loads(answer.read())
    if result["status"] != "succeeded":
        raise SystemExit(f"upload refused: {result}")
    return time.time()


def _entries(record: Path) -> list[dict[str, Any]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


async def _apply(env: dict[str, str], text: str) -> None:
    config, line_of = parse_governance(text, name="bench.yaml")
    conn = await asyncpg.connect(env["DATABASE_URL"])
    try:
        await apply_governance(conn, config, line_of, file_name="bench.yaml")
    finally:
        await conn.close()


async def _count(env: dict[str, str], query: str) -> int:
    conn = await asyncpg.connect(env["DATABASE_URL"])
    try:
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


async def _count_rows(env: dict[str, str], query: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(env["DATABASE_URL"])
    try:
        return [dict(r) for r in await conn.fetch(query)]
    finally:
        await conn.close()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _open(env: dict[str, str]) -> dict[str, str]:
    """The bench's ingest checks no token (the bench measures governance)."""
    return {**env, "FINOPS_AUTH_MODE": "open"}


def _governance_env(env: dict[str, str], **extra: str) -> dict[str, str]:
    return {**env, "GOVERNANCE_ALLOW_LOOPBACK_TARGETS": "true", **extra}


# -- parts -----------------------------------------------------------------------


def part_latency(env: dict[str, str], root: Path, count: int) -> None:
    hook_port, record = _free_port(), root / "latency.jsonl"
    ids = [f"lat-{i}" for i in range(count)]
    asyncio.run(_apply(env, _file(ids, hook_port)))
    ingest_cm, ingest = _service("ingest", "INGEST_", _open(env), root)
    gov_cm, _ = _service("governance", "GOVERNANCE_", _governance_env(env), root)
    with ingest_cm, gov_cm, _receiver(hook_port, record, root):
        time.sleep(2)
        answered: dict[str, float] = {}
        for i, ident in enumerate(ids):
            lines = [HourLine(_resource(i, "0.600000"), NOV + timedelta(hours=i))]
            answered[ident] = _upload(ingest, ident, lines)
            deadline = time.time() + 30
            while not any(f'"id":"{ident}"' in e["body"] for e in _entries(record)):
                if time.time() > deadline:
                    raise SystemExit(f"no webhook for {ident} within 30 s")
                time.sleep(0.01)
            time.sleep(0.2)
    latencies = []
    for entry in _entries(record):
        body = json.loads(entry["body"])
        if body["type"] == "budget.alert":
            latencies.append(entry["received_at"] - answered[body["budget"]["id"]])
    ms = [v * 1000 for v in latencies]
    print(
        f"latency: {len(ms)} alerts, upload answered -> webhook received: "
        f"p50 {statistics.median(ms):.0f} ms, p99 {_pct(ms, 0.99):.0f} ms, "
        f"max {max(ms):.0f} ms; signatures verified: "
        f"{all(e['verified'] for e in _entries(record))}",
        flush=True,
    )


async def _evaluate(env: dict[str, str], nodes: int, budgets: int, passes: int) -> None:
    url = env["DATABASE_URL"]
    conn = await asyncpg.connect(url)
    days = [date(2026, 11, 1) + timedelta(days=d) for d in range(30)]
    dims = ["compute", "storage", "network", "other"]
    rng = random.Random(1)
    names = [f"n{i:05d}" for i in range(nodes)]
    try:
        await conn.copy_records_to_table(
            "cost_nodes",
            records=[(n, "product", 1) for n in names],
            columns=["node_id", "node_type", "graph_version"],
        )
        rows = []
        for n in names:
            for d in days:
                for dim in dims:
                    v = Decimal(rng.randint(1, 2_000_000)) / 1_000_000
                    rows.append((n, d, dim, v, Decimal(0), v, Decimal(0), v))
        await conn.copy_records_to_table(
            "allocation_results",
            records=rows,
            columns=[
                "node_id",
                "charge_date",
                "dimension",
                "direct",
                "indirect",
                "holistic",
                "allocated_out",
                "retained",
            ],
        )
        items = "\n".join(
            f"""  - id: b{i:05d}
    name: b{i:05d}
    amount: "{rng.randint(100, 400)}"
    scope: {{node: {names[i % nodes]}}}
    thresholds: [{{percent: 80}}, {{percent: 100, basis: forecast}}]"""
            for i in range(budgets)
        )
        config, line_of = parse_governance(f"budgets:\n{items}\n", name="bench.yaml")
        started = time.perf_counter()
        await apply_governance(conn, config, line_of, file_name="bench.yaml")
        print(
            f"evaluate: {budgets} budgets applied in "
            f"{time.perf_counter() - started:.1f} s "
            f"({len(rows)} result rows, {nodes} nodes x 30 days x 4 dimensions)",
            flush=True,
        )
        pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
        evaluator = BudgetEvaluator(GovernanceStore(pool))
        await evaluator.refresh_config()
        evaluator.touch(days, "bench")
        cold = await evaluator.run_pass()
        warm: list[float] = []
        judged: list[float] = []
        alerts = 0
        for k in range(passes):
            day = days[10 + k % 20]
            # one allocation batch: the allocator rewrote 200 nodes of one date
            for n in rng.sample(names, 200):
                v = Decimal(rng.randint(1, 40_000_000)) / 1_000_000
                await conn.execute(
                    "UPDATE allocation_results SET direct = $3, holistic = $3, "
                    "retained = $3 WHERE node_id = $1 AND charge_date = $2 "
                    "AND dimension = 'compute'",
                    n,
                    day,
                    v,
                )
            evaluator.touch([day], f"bench/{k}")
            report = await evaluator.run_pass()
            warm.append(report.seconds * 1000)
            judged.append((report.seconds - report.record_seconds) * 1000)
            alerts += report.alerts
        await pool.close()
        print(
            f"evaluate: first pass (reads 30 days) {cold.seconds * 1000:.0f} ms, "
            f"{cold.alerts} alerts; then one batch each: {budgets} budgets "
            "re-evaluated "
            f"in p50 {statistics.median(warm):.0f} ms, p99 {_pct(warm, 0.99):.0f} ms, "
            f"max {max(warm):.0f} ms over {passes} passes ({alerts} alerts recorded); "
            f"without recording the alerts: p50 {statistics.median(judged):.0f} ms, "
            f"p99 {_pct(judged, 0.99):.0f} ms, max {max(judged):.0f} ms",
            flush=True,
        )
    finally:
        await conn.close()


def part_evaluate(env: dict[str, str], nodes: int, budgets: int, passes: int) -> None:
    asyncio.run(_evaluate(env, nodes, budgets, passes))


def _trigger(ingest: str, prefix: str, count: int) -> None:
    """One upload whose lines cross `count` budgets at once."""
    lines = [HourLine(_resource(i, "0.600000"), NOV) for i in range(count)]
    _upload(ingest, prefix, lines)


def _delivered_once(record: Path, count: int) -> tuple[int, int]:
    """(distinct webhook-ids answered 200, webhook-ids answered 200 more than once)."""
    ok = [e["headers"]["webhook-id"] for e in _entries(record) if e["answered"] == 200]
    return len(set(ok)), len(ok) - len(set(ok))


def part_outage(
    env: dict[str, str], root: Path, count: int, outage_s: float, scale: str
) -> None:
    hook_port, record = _free_port(), root / "outage.jsonl"
    ids = [f"out-{i}" for i in range(count)]
    asyncio.run(_apply(env, _file(ids, hook_port)))
    ingest_cm, ingest = _service("ingest", "INGEST_", _open(env), root)
    gov_env = _governance_env(env, GOVERNANCE_BACKOFF_SCALE=scale)
    gov_cm, _ = _service("governance", "GOVERNANCE_", gov_env, root)
    with ingest_cm, gov_cm:
        time.sleep(2)
        _trigger(ingest, "out", count)
        down_at = time.time()
        print(
            f"outage: {count} alerts raised; receiver down for {outage_s:.0f} s",
            flush=True,
        )
        time.sleep(outage_s)
        with _receiver(hook_port, record, root):
            up_at = time.time()
            while _delivered_once(record, count)[0] < count:
                if time.time() - up_at > 3600:
                    raise SystemExit("not every alert delivered within an hour")
                time.sleep(0.5)
            done = time.time()
            time.sleep(3)
    failed = asyncio.run(
        _count(env, "SELECT count(*) FROM webhook_attempts WHERE status_code IS NULL")
    )
    distinct, twice = _delivered_once(record, count)
    print(
        f"outage: all {distinct}/{count} delivered {done - up_at:.0f} s after the "
        f"receiver came back ({done - down_at:.0f} s after the alerts; "
        f"GOVERNANCE_BACKOFF_SCALE={scale}); {failed} failed attempts logged; "
        f"webhook-ids received twice: {twice}",
        flush=True,
    )


def part_kill(env: dict[str, str], root: Path, count: int) -> None:
    hook_port, record = _free_port(), root / "kill.jsonl"
    ids = [f"kill-{i}" for i in range(count)]
    asyncio.run(_apply(env, _file(ids, hook_port)))
    ingest_cm, ingest = _service("ingest", "INGEST_", _open(env), root)
    port = _free_port()
    gov_env = {**_governance_env(env), "GOVERNANCE_HTTP_PORT": str(port)}
    log = root / "governance.log"
    url = f"http://127.0.0.1:{port}"
    with ingest_cm, _receiver(hook_port, record, root, delay_s=0.3):
        with _process([sys.executable, "-m", "governance"], gov_env, log, url) as first:
            time.sleep(2)
            _trigger(ingest, "kill", count)
            while len(_entries(record)) < 3:
                time.sleep(0.01)
            time.sleep(0.4)  # the next batch is on its way (each answer takes 0.3 s)
            first.send_signal(signal.SIGKILL)
            first.wait()
            killed_at = time.time()
            seen_at_kill = len(_entries(record))
        with _process([sys.executable, "-m", "governance"], gov_env, log, url):
            healthy_at = time.time()
            while _delivered_once(record, count)[0] < count:
                if time.time() - killed_at > 600:
                    raise SystemExit("not every alert delivered within 10 minutes")
                time.sleep(0.2)
            done = time.time()
            time.sleep(3)
    rows = asyncio.run(
        _count_rows(
            env,
            "SELECT attempt, status_code, extract(epoch FROM attempted_at) AS at "
            "FROM webhook_attempts ORDER BY attempted_at",
        )
    )
    if os.environ.get("BENCH_DEBUG"):
        for row in rows:
            print(
                f"  attempt {row['attempt']} {row['status_code']} "
                f"at +{float(row['at']) - killed_at:.1f} s"
            )
    distinct, twice = _delivered_once(record, count)
    print(
        f"kill: SIGKILL after {seen_at_kill} of {count} webhooks had arrived; all "
        f"{distinct}/{count} delivered {done - killed_at:.1f} s after the kill "
        f"(the restarted service answered /healthz after "
        f"{healthy_at - killed_at:.1f} s); "
        f"webhook-ids received twice (in flight at the kill, same id, receivers "
        f"de-duplicate): {twice}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--part",
        choices=["latency", "evaluate", "outage", "kill", "all"],
        default="all",
    )
    parser.add_argument("--alerts", type=int, default=50)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--budgets", type=int, default=10_000)
    parser.add_argument("--passes", type=int, default=30)
    parser.add_argument("--outage-s", type=float, default=300)
    parser.add_argument("--backoff-scale", default="0.05")
    args = parser.parse_args()
    parts = (
        ["latency", "evaluate", "kill", "outage"] if args.part == "all" else [args.part]
    )
    with tempfile.TemporaryDirectory(prefix="bench-governance-") as tmp:
        root = Path(tmp)
        with _stack(root) as env:
            for part in parts:
                if part == "latency":
                    part_latency(env, root, args.alerts)
                elif part == "evaluate":
                    part_evaluate(env, args.nodes, args.budgets, args.passes)
                elif part == "kill":
                    part_kill(env, root, args.alerts)
                else:
                    part_outage(
                        env, root, args.alerts, args.outage_s, args.backoff_scale
                    )


if __name__ == "__main__":
    main()
