"""The query API under load on the 5,000-node / 20,000-edge / 90-day organisation.

`finops synth` makes the organisation; `finops allocate`'s engine allocates it and its
results (node rows and the shares flows are derived from) are loaded into PostgreSQL
by COPY, as the allocator would have stored them; the api runs as a process (auth
required). A hand-written
open-loop load generator (asyncio + httpx) sends requests at a fixed rate and times
each from its scheduled start, so a slow answer delays nothing after it.

Figures: products/hierarchy over 30 days at 200 requests/s (p50, p99; the first,
uncached answer of each window on its own), explain at 50 requests/s on random
(product, day, dimension), and a 90-day CSV export of every node row (rows/s and the
api's peak memory). Three runs. Then reads of the derived flows straight in SQL
(median of 3): the api's flows into a product and explain's flows of a date, the sum
of every flow by edge over 7 and 30 days (a Grafana range).

    .venv/bin/python bench/bench_api.py [--runs 3] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import httpx
from bench_ingest_stack import FINOPS, _free_port, _run, _stack, _wait_healthy

from finops.adapters.graph_store import write_graph
from finops.domain.allocation.engine import AllocationEngine
from finops.domain.allocation.readout import (
    STRATEGY_NAMES,
    node_arrays,
    strategy_codes,
)
from finops.domain.allocation.splitting import retained_shares
from finops.domain.money import format_micros
from finops.formats.engine_files import load_engine
from finops.formats.graphfile import load_graph


@dataclass(frozen=True)
class Loaded:
    """What was loaded, and the choices requests draw from."""

    node_rows: int
    flow_rows: int
    load_s: float
    first: date
    last: date
    dims: list[str]
    products: list[str]


SYNTH = ["--nodes", "5000", "--edges", "20000", "--days", "90", "--dimensions", "4"]


def _node_csv(engine: AllocationEngine, out: Path) -> int:
    arrays = node_arrays(engine)
    ids, dims = engine.graph.ids, engine.dimensions
    days = [engine.days.first + timedelta(days=t) for t in range(engine.days.count)]
    figures = (arrays.direct, arrays.indirect, arrays.holistic)
    rest = (arrays.allocated_out, arrays.retained)
    rows = 0
    with out.open("w") as handle:
        for n, node in enumerate(ids):
            for t, day in enumerate(days):
                for k, dim in enumerate(dims):
                    values = [int(a[n, t, k]) for a in (*figures, *rest)]
                    if not any(values):
                        continue
                    amounts = ",".join(format_micros(v) for v in values)
                    handle.write(f"{node},{day},{dim},{amounts}\n")
                    rows += 1
    return rows


def _share_csv(engine: AllocationEngine, out: Path) -> int:
    """The shares the allocator stores (allocation_shares' rows, gathered into
    allocation_share_groups: a set stored once for the dimensions it is the same in):
    per parent, day and dimension one row per child and the
    retained share last; flows are derived from
    them and the node rows by the allocation_contributions view."""
    ids, dims = engine.graph.ids, engine.dimensions
    days = [engine.days.first + timedelta(days=t) for t in range(engine.days.count)]
    rows = 0
    with out.open("w") as handle:
        for p in sorted(engine.state.flows):
            plan = engine.state.plans[p]
            shares = plan.share_cells(None)  # (k, days x dims)
            retained = retained_shares(shares)
            codes = strategy_codes(plan)[plan.dim_config]  # (dims, k)
            k = len(plan.children)
            for cell in range(shares.shape[1]):
                day, dim = days[cell // len(dims)], cell % len(dims)
                for i in range(k):
                    handle.write(
                        f"{day},{ids[p]},{dims[dim]},{i},"
                        f"{ids[int(plan.children[i])]},"
                        f"{STRATEGY_NAMES[int(codes[dim, i])]},"
                        f"{float(shares[i, cell])!r}\n"
                    )
                handle.write(
                    f"{day},{ids[p]},{dims[dim]},{k},,,{float(retained[cell])!r}\n"
                )
                rows += k + 1
    return rows


_SETS = """
INSERT INTO allocation_share_groups (charge_date, from_node, dimension, dimensions,
                                     to_nodes, strategies, shares, retained)
SELECT charge_date, from_node, dimensions[1], dimensions, to_nodes, strategies,
       shares, retained
FROM (SELECT charge_date, from_node, array_agg(dimension ORDER BY dimension)
             AS dimensions, to_nodes, strategies, shares, retained
      FROM (SELECT charge_date, from_node, dimension,
                   array_agg(to_node ORDER BY position) FILTER (WHERE to_node <> '')
                     AS to_nodes,
                   array_agg(strategy ORDER BY position) FILTER (WHERE to_node <> '')
                     AS strategies,
                   array_agg(share ORDER BY position) FILTER (WHERE to_node <> '')
                     AS shares,
                   max(share) FILTER (WHERE to_node = '') AS retained
            FROM share_rows GROUP BY charge_date, from_node, dimension) sets
      GROUP BY charge_date, from_node, to_nodes, strategies, shares, retained) groups"""


async def _load(env: dict[str, str], org: Path, work: Path) -> Loaded:
    engine = load_engine(org / "graph.json", org / "costs.csv", org / "usage.csv")
    started = time.perf_counter()
    node_rows = _node_csv(engine, work / "nodes.csv")
    flow_rows = _share_csv(engine, work / "shares.csv")
    conn = await asyncpg.connect(env["DATABASE_URL"])
    try:
        # The engine's graph is read without pydantic; the store takes the model.
        spec = load_graph(org / "graph.json")
        await write_graph(conn, spec, version=1, digest="bench")
        run = "00000000-0000-0000-0000-000000000001"
        await conn.execute(
            "INSERT INTO computation_runs (run_id, kind, status) "
            "VALUES ($1, 'full', 'succeeded')",
            run,
        )
        await conn.copy_to_table(
            "allocation_results",
            source=work / "nodes.csv",
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
            format="csv",
        )
        await conn.execute(
            "CREATE TEMP TABLE share_rows (charge_date DATE, from_node TEXT,"
            " dimension TEXT, position BIGINT, to_node TEXT, strategy TEXT,"
            " share DOUBLE PRECISION)"
        )
        await conn.copy_to_table(
            "share_rows",
            source=work / "shares.csv",
            columns=[
                "charge_date",
                "from_node",
                "dimension",
                "position",
                "to_node",
                "strategy",
                "share",
            ],
            format="csv",
            force_not_null=["to_node", "strategy"],
        )
        await conn.execute(_SETS)  # one row per date, parent and dimension (0080)
        days = [engine.days.first + timedelta(days=t) for t in range(engine.days.count)]
        await conn.executemany(
            "INSERT INTO allocator_days (charge_date, graph_version) VALUES ($1, 1)",
            [(d,) for d in days],
        )
        await conn.execute("ANALYZE")
        products = [n.id for n in engine.graph.spec.nodes if str(n.type) == "product"]
    finally:
        await conn.close()
    return Loaded(
        node_rows,
        flow_rows,
        time.perf_counter() - started,
        days[0],
        days[-1],
        list(engine.dimensions),
        products,
    )


@contextmanager
def _api(env: dict[str, str], root: Path) -> Iterator[tuple[str, int]]:
    port = _free_port()
    log = (root / "api.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "api"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**env, "API_HTTP_PORT": str(port), "API_QUERY_POOL_SIZE": "8"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=60)


async def _open_loop(
    client: httpx.AsyncClient, urls: list[str], rate: float, seconds: float
) -> tuple[list[float], int]:
    """Send urls round-robin at `rate`/s; latency from each scheduled start (ms)."""
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.1

    async def one(at: float, url: str) -> None:
        nonlocal errors
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        answer = await client.get(url)
        if answer.status_code != 200:
            errors += 1
        latencies.append((time.perf_counter() - at) * 1000)

    count = int(rate * seconds)
    await asyncio.gather(
        *(one(start + i / rate, urls[i % len(urls)]) for i in range(count))
    )
    return latencies, errors


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


async def _one_run(
    url: str, token: str, pid: int, data: Loaded, seconds: float, seed: int
) -> dict[str, object]:
    rng = random.Random(seed)
    first, last = data.first, data.last
    windows = [
        (last - timedelta(days=29 + shift), last - timedelta(days=shift))
        for shift in (0, 7, 14)
    ]
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=60
    ) as client:
        hierarchy = [
            f"/v1/products/hierarchy?start={a}&end={b}&limit=50&run={seed}"
            for a, b in windows
        ]
        cold = []
        for path in hierarchy:
            began = time.perf_counter()
            assert (await client.get(path)).status_code == 200
            cold.append((time.perf_counter() - began) * 1000)
        warm, warm_errors = await _open_loop(client, hierarchy, 200, seconds)
        products, dims = data.products, data.dims
        explain = [
            f"/v1/explain?node={rng.choice(products)}"
            f"&date={first + timedelta(days=rng.randrange(90))}"
            f"&dimension={rng.choice(dims)}"
            for _ in range(int(50 * seconds))
        ]
        explained, explain_errors = await _open_loop(client, explain, 50, seconds)
        began = time.perf_counter()
        rows = -1
        async with client.stream(
            "GET",
            f"/v1/export?type=nodes&start={first}&end={last}",
            headers={"Accept-Encoding": "identity"},
        ) as answer:
            async for chunk in answer.aiter_bytes():
                rows += chunk.count(b"\n")
        export_s = time.perf_counter() - began
    return {
        "hierarchy_cold_ms": [round(c, 1) for c in cold],
        "hierarchy_p50_ms": round(_pct(warm, 50), 2),
        "hierarchy_p99_ms": round(_pct(warm, 99), 2),
        "hierarchy_requests": len(warm),
        "hierarchy_errors": warm_errors,
        "explain_p50_ms": round(_pct(explained, 50), 2),
        "explain_p99_ms": round(_pct(explained, 99), 2),
        "explain_errors": explain_errors,
        "export_rows": rows,
        "export_rows_per_s": round(rows / export_s),
        "api_peak_rss_mib": round(_peak_kib(pid) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="finops-bench-api-"))
    try:
        _bench(root, args.runs, args.seconds)
    finally:
        shutil.rmtree(root, ignore_errors=True)  # the CSV files are 0.7 GB


def _bench(root: Path, runs: int, seconds: float) -> None:
    with _stack(root) as env:
        org = root / "org"
        _run([*FINOPS, "synth", "--out", str(org), *SYNTH, "--seed", "42"], env)
        data = asyncio.run(_load(env, org, root))
        print(
            f"loaded {data.node_rows} node rows, {data.flow_rows} share rows "
            f"in {data.load_s:.0f} s",
            flush=True,
        )
        made = _run(
            [
                *FINOPS,
                "tokens",
                "create",
                "--name",
                "bench",
                "--scope",
                "read",
                "--json",
            ],
            env,
        )
        token = json.loads(made)["token"]
        with _api(env, root) as (url, pid):
            for run in range(runs):
                figures = asyncio.run(
                    _one_run(url, token, pid, data, seconds, seed=run)
                )
                print(f"run {run + 1}: {json.dumps(figures)}", flush=True)
        for name, ms in asyncio.run(_flow_reads(env["DATABASE_URL"], data)).items():
            print(f"derived flows, {name}: median {ms:.0f} ms of 3", flush=True)


_FLOW_READS = {
    "into a product over 30 days (the api's flows_into)": """
SELECT from_node, to_node, sum(amount) FROM allocation_contributions
WHERE to_node = ANY($3::text[]) AND charge_date BETWEEN $1 AND $2 GROUP BY 1, 2""",
    "into a product on a date, one dimension (explain)": """
SELECT from_node, amount FROM allocation_contributions
WHERE to_node = ANY($3::text[]) AND charge_date = $2 AND dimension = $4
  AND amount <> 0 AND $1::date IS NOT NULL""",
    "every flow summed by edge over 7 days": """
SELECT from_node, to_node, sum(amount) FROM allocation_contributions
WHERE charge_date BETWEEN $2::date - 6 AND $2 AND $1::date IS NOT NULL
  AND cardinality($3::text[]) >= 0 GROUP BY 1, 2""",
    "every flow summed by edge over 30 days": """
SELECT from_node, to_node, sum(amount) FROM allocation_contributions
WHERE charge_date BETWEEN $1 AND $2 AND cardinality($3::text[]) >= 0
GROUP BY 1, 2""",
}


async def _flow_reads(url: str, data: Loaded) -> dict[str, float]:
    """Milliseconds of reads of the derived flows (median of 3)."""
    conn = await asyncpg.connect(url)
    first = data.last - timedelta(days=29)
    try:
        found = {}
        for name, sql in _FLOW_READS.items():
            args: list[object] = [first, data.last, data.products[:1]]
            if "$4" in sql:
                args.append(data.dims[0])
            times = []
            for _ in range(3):
                began = time.perf_counter()
                await conn.fetch(sql, *args)
                times.append((time.perf_counter() - began) * 1000)
            found[name] = statistics.median(times)
        return found
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
