"""Probe for issue 19's "write less": can PostgreSQL derive flows from node results
and per-edge shares, exactly, and what would reads and writes cost?

Run: python bench/bench_derived_flows.py [--org DIR] [--days N] [--changes N]

A flow is split_exactly(holistic of its parent, the parent's shares) for one date and
dimension. This probe stores, for the first `--days` dates of an organisation
(default: `finops synth` with bench_stream's 5,000 nodes / 20,000 edges / 4 dimensions):
each parent's holistic amount, each edge's share and each parent's retained share (all
as the engine holds them), defines the largest-remainder split as a SQL view, and
prints:
- mismatches between the view and the engine's flows (and on random splits with
  negative amounts, ties, zero shares and 1-11 parts), which must be 0;
- read times: one parent's flows on a date, flows into one node on a date (whole-date
  view, and parents first), the sum of every flow over the stored dates;
- write volume per event on a one-day engine: flow cells a cost change rewrites today,
  against the share cells a usage change rewrites (a cost change rewrites no share).
Starts its own PostgreSQL (no Kafka); prints figures only, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import asyncpg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finops.domain.allocation.engine import AllocationEngine
from finops.domain.allocation.frames import capture, diff_frames
from finops.domain.allocation.splitting import split_exactly
from finops.domain.allocation.synth import SynthOptions, generate_org
from finops.formats.engine_files import load_engine, write_org
from tests.support.infrastructure import local_postgres

_TABLES = """
CREATE TABLE node_holistic (
    node_id text, charge_date date, dimension text, micros bigint,
    PRIMARY KEY (node_id, charge_date, dimension));
CREATE TABLE edge_shares (
    charge_date date, dimension text, from_node text, position int, to_node text,
    share float8, PRIMARY KEY (charge_date, dimension, from_node, position));
CREATE INDEX edge_shares_to ON edge_shares (to_node, charge_date);
CREATE TABLE parent_shares (
    charge_date date, dimension text, from_node text, parts int, retained float8,
    PRIMARY KEY (charge_date, dimension, from_node));
"""

# split_exactly in SQL: every part (the retained one last) gets the floor of share x
# amount in float8 (IEEE, as NumPy), the leftover units go one each to the largest
# fractional remainders, ties to the earlier part; a part without share ranks last;
# float noise can leave more leftover than parts: everyone gets the whole quotient.
_VIEW = """
CREATE VIEW derived_flows AS
WITH parts AS (
  SELECT s.charge_date, s.dimension, s.from_node, s.position, s.to_node, s.share,
         COALESCE(h.micros, 0) AS amount, p.parts
  FROM edge_shares s
  JOIN parent_shares p USING (charge_date, dimension, from_node)
  LEFT JOIN node_holistic h ON h.node_id = s.from_node
       AND h.charge_date = s.charge_date AND h.dimension = s.dimension
  UNION ALL
  SELECT p.charge_date, p.dimension, p.from_node, p.parts, NULL, p.retained,
         COALESCE(h.micros, 0), p.parts
  FROM parent_shares p
  LEFT JOIN node_holistic h ON h.node_id = p.from_node
       AND h.charge_date = p.charge_date AND h.dimension = p.dimension
), ideal AS (
  SELECT *, share * amount::float8 AS exact, floor(share * amount::float8) AS low
  FROM parts
), ranked AS (
  SELECT *,
         amount - sum(low::bigint) OVER parent AS leftover,
         row_number() OVER (
           PARTITION BY charge_date, dimension, from_node
           ORDER BY CASE WHEN share = 0 THEN -1.0 ELSE exact - low END DESC, position
         ) - 1 AS rank
  FROM ideal
  WINDOW parent AS (PARTITION BY charge_date, dimension, from_node)
), spread AS (
  SELECT *, floor(leftover::numeric / (parts + 1))::bigint AS whole FROM ranked
)
SELECT charge_date, dimension, from_node, to_node, position, share,
       low::bigint + whole
         + CASE WHEN rank < leftover - whole * (parts + 1) THEN 1 ELSE 0 END AS amount
FROM spread WHERE to_node IS NOT NULL;
"""

Rows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]


def say(text: str) -> None:
    print(text, flush=True)


def engine_rows(
    engine: AllocationEngine,
) -> tuple[Rows, dict[tuple[date, str, str, int], int]]:
    """Holistic, share and retained rows of every cell, and the engine's flows."""
    state, ids, dims = engine.state, engine.graph.ids, engine.dimensions
    first, n_dims = engine.days.first, len(engine.dimensions)
    holistic = state.direct + state.received
    held = [
        (ids[n], first + timedelta(days=int(d)), dims[k], int(holistic[n, d, k]))
        for n, d, k in zip(*np.nonzero(holistic), strict=True)
    ]
    shares, parents, flows = [], [], {}
    for p in sorted(state.flows):
        plan = state.plans[p]
        split = plan.share_cells(None)
        parts = len(plan.children)
        retained = 1.0 - split.sum(axis=0)
        retained[retained < 1e-12] = 0.0
        amounts = state.flows[p].reshape(parts, -1)
        for cell in range(split.shape[1]):
            day, dim = first + timedelta(days=cell // n_dims), dims[cell % n_dims]
            parents.append((day, dim, ids[p], parts, float(retained[cell])))
            for i in range(parts):
                child = ids[int(plan.children[i])]
                shares.append((day, dim, ids[p], i, child, float(split[i, cell])))
                flows[(day, dim, ids[p], i)] = int(amounts[i, cell])
    return (held, shares, parents), flows


def random_rows(seed: int) -> tuple[Rows, dict[tuple[date, str, str, int], int]]:
    """Random splits: negative and tiny amounts, ties, zero shares, 1-11 parts."""
    rng = np.random.default_rng(seed)
    day, held, shares, parents, want = date(2025, 1, 1), [], [], [], {}
    for parts in range(1, 12):
        n = 2_000
        amounts = rng.integers(-(10**9), 10**13, size=n).astype(np.int64)
        amounts[: n // 5] = rng.integers(-5, 6, size=n // 5)
        weights = rng.random((parts, n))
        weights[rng.random((parts, n)) < 0.2] = 0.0
        weights[:, rng.random(n) < 0.3] = 1.0  # equal shares: ties
        total = weights.sum(axis=0)
        split = np.where(total > 0, weights / np.where(total > 0, total, 1), 0.0)
        split *= np.where(rng.random(n) < 0.3, rng.random(n), 1.0)
        expected = split_exactly(amounts, split)
        retained = 1.0 - split.sum(axis=0)
        retained[retained < 1e-12] = 0.0
        for c in range(n):
            parent = f"p{parts}-{c}"
            held.append((parent, day, "d", int(amounts[c])))
            parents.append((day, "d", parent, parts, float(retained[c])))
            for i in range(parts):
                shares.append((day, "d", parent, i, f"c{i}", float(split[i, c])))
                want[(day, "d", parent, i)] = int(expected[i, c])
    return (held, shares, parents), want


async def _load(conn: asyncpg.Connection, rows: Rows) -> None:
    await conn.execute("TRUNCATE node_holistic, edge_shares, parent_shares")
    for table, records in zip(
        ("node_holistic", "edge_shares", "parent_shares"), rows, strict=True
    ):
        await conn.copy_records_to_table(table, records=records)
    await conn.execute("ANALYZE")


async def _mismatches(
    conn: asyncpg.Connection, want: dict[tuple[date, str, str, int], int]
) -> int:
    got = await conn.fetch(
        "SELECT charge_date, dimension, from_node, position, amount FROM derived_flows"
    )
    wrong = sum(1 for r in got if want.get(tuple(r[:4])) != r[4])
    return wrong + abs(len(want) - len(got))


async def _timed(conn: asyncpg.Connection, query: str, *args: Any) -> float:
    times = []
    for _ in range(5):
        began = time.perf_counter()
        await conn.fetch(query, *args)
        times.append(time.perf_counter() - began)
    return median(times)


async def probe(url: str, engine: AllocationEngine) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "DROP SCHEMA IF EXISTS derived CASCADE; CREATE SCHEMA derived; "
            "SET search_path = derived"
        )
        await conn.execute(_TABLES + _VIEW)
        for seed in (1, 2, 3):
            rows, want = random_rows(seed)
            await _load(conn, rows)
            wrong = await _mismatches(conn, want)
            say(f"random splits (seed {seed}): {wrong} mismatches of {len(want):,}")
        rows, want = engine_rows(engine)
        await _load(conn, rows)
        wrong = await _mismatches(conn, want)
        say(
            f"organisation, {engine.days.count} days: {wrong} mismatches of "
            f"{len(want):,} flows ({len(rows[0]):,} node cells, {len(rows[2]):,} "
            "parent cells)"
        )
        await _reads(conn, engine)
    finally:
        await conn.close()


async def _reads(conn: asyncpg.Connection, engine: AllocationEngine) -> None:
    day = engine.days.first
    parents = sorted(engine.state.flows)
    node = engine.graph.ids[parents[len(parents) // 2]]
    child = engine.graph.ids[int(engine.state.plans[parents[0]].children[0])]
    into_first = """SELECT * FROM derived_flows WHERE charge_date = $2 AND from_node IN
        (SELECT from_node FROM edge_shares WHERE to_node = $1 AND charge_date = $2)
        AND to_node = $1"""
    figures = {
        "one parent's flows on a date": await _timed(
            conn,
            "SELECT * FROM derived_flows WHERE from_node = $1 AND charge_date = $2",
            node,
            day,
        ),
        "flows into a node on a date (whole date derived)": await _timed(
            conn,
            "SELECT * FROM derived_flows WHERE to_node = $1 AND charge_date = $2",
            child,
            day,
        ),
        "flows into a node on a date (its parents first)": await _timed(
            conn, into_first, child, day
        ),
        f"sum of every flow by edge over {engine.days.count} days": await _timed(
            conn,
            "SELECT from_node, to_node, sum(amount) FROM derived_flows GROUP BY 1, 2",
        ),
    }
    for name, seconds in figures.items():
        say(f"read: {name}: median {seconds * 1000:.1f} ms of 5")


def _usage_keys(usage: Path) -> tuple[list[str], list[str]]:
    """Nodes and metrics of a usage file (the bench stream's usage events name them)."""
    with usage.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return sorted({r["node"] for r in rows}), sorted({r["metric"] for r in rows})


def write_volume(
    engine: AllocationEngine, usage: Path, changes: int, seed: int
) -> None:
    """Cells rewritten per single-row event on a one-day engine."""
    rng = random.Random(seed)
    graph = engine.graph
    resources = [n for n in graph.ids if not graph.parents(n)]
    usage_nodes, metrics = _usage_keys(usage)
    day, dim = engine.days.first, engine.dimensions[0]
    flows_per_cost, nodes_per_cost, shares_per_usage, flows_per_usage = [], [], [], []
    before = capture(engine)
    for _ in range(changes):
        engine.set_node_cost(rng.choice(resources), day, dim, rng.randint(1, 10**8))
        after = capture(engine, before)
        diff = diff_frames(before, after)
        share_diff = int((before.share != after.share).sum())
        flows_per_cost.append(len(diff.flows[0]) if diff.flows else 0)
        nodes_per_cost.append(len(diff.nodes[0]) if diff.nodes else 0)
        shares_per_usage.append(share_diff)  # a cost change moves no share
        before = after
    say(
        f"write volume, {changes} cost changes: flow cells rewritten median "
        f"{median(flows_per_cost):,.0f} (max {max(flows_per_cost):,}), node cells "
        f"median {median(nodes_per_cost):,.0f}; share cells changed: "
        f"{sum(shares_per_usage)} in all"
    )
    if not metrics:
        return
    for _ in range(changes):
        node = rng.choice(usage_nodes)
        engine.set_usage(node, day, rng.choice(metrics), rng.uniform(1, 1000))
        after = capture(engine, before)
        changed = (before.share != after.share) | (before.amount != after.amount)
        shares_per_usage.append(int((before.share != after.share).sum()))
        flows_per_usage.append(int(changed.sum()))
        before = after
    say(
        f"write volume, {changes} usage changes: share cells changed median "
        f"{median(shares_per_usage[changes:]):,.0f}, flow cells rewritten today median "
        f"{median(flows_per_usage):,.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--org", type=Path, help="an organisation folder (synth's)")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="derived-") as tmp:
        work = Path(tmp)
        org = args.org
        if org is None:
            org = work / "org"
            write_org(
                generate_org(
                    SynthOptions(
                        nodes=5_000, edges=20_000, days=args.days, dimensions=4, seed=7
                    )
                ),
                org,
            )
        first = date(2025, 1, 1)
        last = first + timedelta(days=args.days - 1)
        engine = load_engine(
            org / "graph.json",
            org / "costs.csv",
            org / "usage.csv",
            first=first,
            last=last,
        )
        with local_postgres(work, migrate=False) as database_url:
            asyncio.run(probe(database_url, engine))
        one_day = load_engine(
            org / "graph.json",
            org / "costs.csv",
            org / "usage.csv",
            first=first,
            last=first,
        )
        write_volume(one_day, org / "usage.csv", args.changes, seed=11)


if __name__ == "__main__":
    main()
