"""The yardstick: a plain dict-and-loop Python allocator with the same semantics.

It reads the same G/C/U files with the csv and json modules, keeps everything in
dicts and walks every day, dimension and node in loops. Not used by the product.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

__all__ = ["allocate_plain"]

USAGE_BASED = {
    "proportional",
    "proportional_on",
    "weighted_average",
    "segment_filtered_proportional",
    "capped_proportional",
    "hybrid_fixed_proportional",
    "min_floor_proportional",
    "residual_to_max",
}


Edges = dict[str, list[dict[str, Any]]]  # out-edges per parent, as in the graph file
Costs = dict[tuple[str, str, str], int]  # (node, date, dimension) -> micro-units
Usage = dict[
    tuple[str, str, str], list[tuple[float, dict[str, Any]]]
]  # -> (value, labels)


def allocate_plain(
    graph_path: Path, costs_path: Path, usage_path: Path
) -> dict[str, int]:
    """Summary (micro-units) of allocating every day and dimension, loop by loop."""
    graph = json.loads(graph_path.read_text())
    types = {n["id"]: n["type"] for n in graph["nodes"]}
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in graph["edges"]:
        out[e["from"]].append(e)
    for edges in out.values():
        edges.sort(key=lambda e: (e["to"], e.get("active_from") or ""))
    direct = _read_costs(costs_path)
    usage = _read_usage(usage_path)
    days = sorted({k[1] for k in direct})
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    dims = sorted({k[2] for k in direct})
    order = _topological(list(types), out)
    kept = 0
    d = first
    while d <= last:
        for dim in dims:
            kept += _one_cell(d, dim, order, out, types, direct, usage)
        d += timedelta(days=1)
    raw = sum(direct.values())
    return {"raw_total": raw, "allocated_to_products": kept, "unallocated": raw - kept}


def _read_costs(path: Path) -> dict[tuple[str, str, str], int]:
    sums: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            sums[(row["node"], row["date"], row["dimension"])] += Decimal(row["amount"])
    return {
        k: int((v * 1_000_000).quantize(Decimal(1), ROUND_HALF_EVEN))
        for k, v in sums.items()
    }


def _read_usage(path: Path) -> Usage:
    rows: Usage = defaultdict(list)
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            labels = json.loads(row["labels"]) if row.get("labels") else {}
            rows[(row["node"], row["date"], row["metric"])].append(
                (float(row["value"]), labels)
            )
    return rows


def _topological(nodes: list[str], out: dict[str, list[dict[str, Any]]]) -> list[str]:
    indegree = dict.fromkeys(nodes, 0)
    for edges in out.values():
        for e in edges:
            indegree[e["to"]] += 1
    ready = sorted(n for n, k in indegree.items() if k == 0)
    order = []
    while ready:
        n = ready.pop()
        order.append(n)
        for e in out.get(n, []):
            indegree[e["to"]] -= 1
            if indegree[e["to"]] == 0:
                ready.append(e["to"])
    return order


def _one_cell(
    day: date,
    dim: str,
    order: list[str],
    out: Edges,
    types: dict[str, str],
    direct: Costs,
    usage: Usage,
) -> int:
    received: dict[str, int] = defaultdict(int)
    iso = day.isoformat()
    kept = 0
    for node in order:
        h = direct.get((node, iso, dim), 0) + received[node]
        edges = out.get(node, [])
        if edges:
            parts = _split(h, _shares(edges, day, dim, usage))
            for e, part in zip(edges, parts, strict=True):
                received[e["to"]] += part
            h -= sum(parts)
        if types[node] == "product":
            kept += h
    return kept


def _split(amount: int, shares: list[float]) -> list[int]:
    rest = max(1.0 - sum(shares), 0.0)
    rest = 0.0 if rest < 1e-12 else rest
    ideal = [amount * s for s in shares] + [amount * rest]
    parts = [math.floor(x) for x in ideal]
    fractions = [
        x - p if s != 0 else -1.0
        for x, p, s in zip(ideal, parts, [*shares, rest], strict=True)
    ]
    leftover = amount - sum(parts)
    ranked = sorted(range(len(parts)), key=lambda i: -fractions[i])
    whole, extra = divmod(leftover, len(parts))
    for rank, i in enumerate(ranked):
        parts[i] += whole + (1 if rank < extra else 0)
    return parts[:-1]


def _rule(e: dict[str, Any], dim: str) -> tuple[str, dict[str, Any]]:
    o = e.get("dimensions", {}).get(dim)
    return (
        (o["strategy"], o.get("params", {}))
        if o
        else (e["strategy"], e.get("params", {}))
    )


def _active(e: dict[str, Any], day: date) -> bool:
    lo, hi = e.get("active_from"), e.get("active_to")
    return (lo is None or day >= date.fromisoformat(lo)) and (
        hi is None or day < date.fromisoformat(hi)
    )


def _shares(
    edges: list[dict[str, Any]], day: date, dim: str, usage: Usage
) -> list[float]:
    rules = [_rule(e, dim) for e in edges]
    active = [_active(e, day) for e in edges]
    shares = [
        p["percent"] / 100 if s == "fixed_percent" and a else 0.0
        for (s, p), a in zip(rules, active, strict=True)
    ]
    r = max(1.0 - sum(shares), 0.0)
    group = [i for i, (s, _) in enumerate(rules) if s != "fixed_percent" and active[i]]
    if not group:
        return shares
    name, params = rules[group[0]]
    u = [_usage(edges[i]["to"], day, rules[i][1], name, usage) for i in group]
    for i, s in zip(group, _group(name, params, u, r), strict=True):
        shares[i] = s
    return shares


def _usage(
    node: str, day: date, params: dict[str, Any], name: str, usage: Usage
) -> float:
    if name not in USAGE_BASED:
        return 0.0
    metric = params["metric"]
    if name == "weighted_average":
        vals = []
        for back in range(params.get("window_days", 7)):
            rows = usage.get((node, (day - timedelta(days=back)).isoformat(), metric))
            if rows:
                vals.append(sum(v for v, _ in rows))
        return sum(vals) / len(vals) if vals else 0.0
    rows = usage.get((node, day.isoformat(), metric), [])
    f = (
        params.get("segment_filter")
        if name == "segment_filtered_proportional"
        else None
    )
    return float(sum(v for v, labels in rows if f is None or _matches(f, labels)))


def _matches(f: dict[str, Any], labels: dict[str, Any]) -> bool:
    op, present, value = (
        f.get("operator", "eq"),
        f["label"] in labels,
        labels.get(f["label"]),
    )
    if op == "exists":
        return present
    if op == "not_exists":
        return not present
    wanted: list[Any] = f["values"] if op in ("in", "not_in") else [f.get("value")]
    hit = present and value in wanted
    return hit if op in ("eq", "in") else not hit


def _group(name: str, params: dict[str, Any], u: list[float], r: float) -> list[float]:
    m = len(u)
    total = sum(u)
    even = [1.0 / m] * m
    if total > 0:
        w = [x / total for x in u]
    else:
        w = even if params.get("fallback", "equal") == "equal" else [0.0] * m
    if name == "equal":
        return [r / m] * m
    if name == "capped_proportional":
        return _capped(w, params["cap"] / 100, r)
    if name == "hybrid_fixed_proportional":
        f = params["fixed_percent"] / 100
        return [r * (f / m + (1 - f) * x) for x in w]
    if name == "min_floor_proportional":
        f = params["min_floor_percent"] / 100
        return [r / m] * m if m * f >= 1 else [r * (f + (1 - m * f) * x) for x in w]
    if name == "residual_to_max":
        if total <= 0:
            return [r * x for x in w]
        top = max(range(m), key=lambda i: (u[i], -i))
        return [r if i == top else 0.0 for i in range(m)]
    return [r * x for x in w]


def _capped(w: list[float], cap: float, r: float) -> list[float]:
    shares = [r * x for x in w]
    capped = [False] * len(w)
    while True:
        over = [i for i, s in enumerate(shares) if not capped[i] and s > cap + 1e-15]
        if not over:
            return shares
        for i in over:
            capped[i] = True
        budget = max(r - cap * sum(capped), 0.0)
        free = sum(x for x, c in zip(w, capped, strict=True) if not c)
        shares = [
            cap if c else (budget * x / free if free > 0 else 0.0)
            for x, c in zip(w, capped, strict=True)
        ]
