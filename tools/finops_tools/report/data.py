"""What the report shows, read from PostgreSQL (the Grafana views, read-only)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import asyncpg

from finops.contracts.settings import PostgresSettings
from finops.errors import StackError

__all__ = ["Budget", "Mover", "ReportData", "fetch_report"]

TOP_SHARED = 8
TOP_PRODUCTS = 10
OTHER_SOURCES = "node costs"


@dataclass(frozen=True)
class Budget:
    budget_id: str
    name: str
    amount: Decimal
    spent: Decimal | None
    forecast: Decimal | None
    thresholds: str
    firing: int


@dataclass(frozen=True)
class Mover:
    product: str
    before: Decimal
    after: Decimal

    @property
    def change(self) -> Decimal:
        return self.after - self.before


@dataclass
class ReportData:
    """Every figure of the page, exact decimals."""

    first: date
    last: date
    raw_total: Decimal = Decimal(0)
    allocated: Decimal = Decimal(0)
    unallocated: Decimal = Decimal(0)
    providers: dict[str, Decimal] = field(default_factory=dict)
    flows: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    columns: dict[str, int] = field(default_factory=dict)
    trends: dict[str, dict[date, Decimal]] = field(default_factory=dict)
    budgets: list[Budget] = field(default_factory=list)
    movers: list[Mover] = field(default_factory=list)

    @property
    def coverage(self) -> Decimal:
        return self.allocated / self.raw_total if self.raw_total else Decimal(0)


_WINDOW = "SELECT min(charge_date), max(charge_date) FROM allocator_days"
_TOTALS = """
SELECT coalesce(sum(direct), 0) AS raw,
       coalesce(sum(holistic) FILTER (WHERE node_type = 'product'), 0) AS allocated,
       coalesce(sum(retained) FILTER (WHERE node_type <> 'product'), 0) AS unallocated
FROM grafana_node_costs_daily WHERE day BETWEEN $1 AND $2"""
_PROVIDERS = """
SELECT provider, sum(cost) AS cost FROM grafana_cost_lines
WHERE "time"::date BETWEEN $1 AND $2 GROUP BY 1 ORDER BY 2 DESC"""
# Each node's direct cost per provider of its bill lines (the rest: node costs).
_NODE_PROVIDERS = """
SELECT node, provider, sum(cost) AS cost FROM grafana_cost_lines
WHERE "time"::date BETWEEN $1 AND $2 GROUP BY 1, 2"""
_NODES = """
SELECT node_id, node_type, sum(direct) AS direct, sum(holistic) AS holistic,
       sum(retained) AS retained
FROM grafana_node_costs_daily WHERE day BETWEEN $1 AND $2 GROUP BY 1, 2"""
_FLOWS = """
SELECT from_node, to_node, sum(amount) AS amount FROM grafana_flows_daily
WHERE day BETWEEN $1 AND $2 GROUP BY 1, 2"""
_TRENDS = """
SELECT node_id, day, sum(holistic) AS holistic FROM grafana_node_costs_daily
WHERE node_type = 'product' AND day BETWEEN $1 AND $2 GROUP BY 1, 2"""
_BUDGETS = """
SELECT budget_id, name, amount, coalesce(node_month_spent, alert_spent) AS spent,
       alert_forecast AS forecast, coalesce(thresholds, '') AS thresholds,
       thresholds_firing FROM grafana_budgets ORDER BY budget_id"""


async def fetch_report(
    postgres: PostgresSettings, first: date | None, last: date | None
) -> ReportData:
    """The report's figures over [first, last] (default: the latest 30 stored days)."""
    conn = await asyncpg.connect(
        postgres.database_url,
        server_settings={
            "search_path": postgres.db_schema,
            "default_transaction_read_only": "on",
        },
    )
    try:
        bounds = await conn.fetchrow(_WINDOW)
        low, high = (bounds[0], bounds[1]) if bounds else (None, None)
        if low is None or high is None:
            raise StackError("no stored results yet: nothing to report")
        last = last or high
        first = first or max(low, last - timedelta(days=29))
        if first > last:
            raise StackError(f"--from {first} is after --to {last}")
        data = ReportData(first, last)
        row = await conn.fetchrow(_TOTALS, first, last)
        assert row is not None  # an aggregate always answers one row
        data.raw_total, data.allocated = row["raw"], row["allocated"]
        data.unallocated = row["unallocated"]
        data.providers = {
            r["provider"]: r["cost"] for r in await conn.fetch(_PROVIDERS, first, last)
        }
        nodes = await conn.fetch(_NODES, first, last)
        flows = await conn.fetch(_FLOWS, first, last)
        lines = await conn.fetch(_NODE_PROVIDERS, first, last)
        data.flows, data.columns = _sankey(nodes, flows, lines)
        for r in await conn.fetch(_TRENDS, first, last):
            data.trends.setdefault(r["node_id"], {})[r["day"]] = r["holistic"]
        data.budgets = [Budget(*r.values()) for r in await conn.fetch(_BUDGETS)]
        data.movers = _movers(data.trends, first, last)
        return data
    finally:
        await conn.close()


def _movers(
    trends: dict[str, dict[date, Decimal]], first: date, last: date
) -> list[Mover]:
    """Products by the change of their cost from the window's first half to its
    second (halves of equal length; the middle day of an odd window in neither)."""
    half = ((last - first).days + 1) // 2
    movers = []
    for product, days in trends.items():
        before = sum(
            (v for d, v in days.items() if d < first + timedelta(half)), Decimal(0)
        )
        after = sum(
            (v for d, v in days.items() if d > last - timedelta(half)), Decimal(0)
        )
        movers.append(Mover(product, before, after))
    movers.sort(key=lambda m: (-abs(m.change), m.product))
    return movers[:10]


def _group(ranked: list[str], keep: int, other: str) -> dict[str, str]:
    return {n: (n if i < keep else other) for i, n in enumerate(ranked)}


def _sankey(
    nodes: list[asyncpg.Record],
    flows: list[asyncpg.Record],
    lines: list[asyncpg.Record],
) -> tuple[dict[tuple[str, str], Decimal], dict[str, int]]:
    """Links providers -> shared services -> products (and unallocated).

    A node's direct cost is split by the provider of its bill lines (what no line
    explains: node costs); resource nodes pass it on in proportion to what they
    pass to each child. Shared and platform nodes are one column (the largest
    eight, the rest as "other shared"); products the last (ten, "other products").
    """
    kind = {r["node_id"]: r["node_type"] for r in nodes}
    by_provider: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for r in lines:
        by_provider[r["node"]][r["provider"]] = r["cost"]
    direct = {r["node_id"]: r["direct"] for r in nodes}
    holistic = {r["node_id"]: r["holistic"] for r in nodes}
    shares: dict[str, dict[str, Decimal]] = {}
    for node, amount in direct.items():
        split = dict(by_provider.get(node, {}))
        rest = amount - sum(split.values(), Decimal(0))
        if rest:
            split[OTHER_SOURCES] = split.get(OTHER_SOURCES, Decimal(0)) + rest
        total = sum(split.values(), Decimal(0))
        shares[node] = {p: v / total for p, v in split.items()} if total else {}
    middle_rank = sorted(
        (n for n, t in kind.items() if t in ("shared", "platform")),
        key=lambda n: (-holistic[n], n),
    )
    product_rank = sorted(
        (n for n, t in kind.items() if t == "product"), key=lambda n: (-holistic[n], n)
    )
    label = _group(middle_rank, TOP_SHARED, "other shared")
    label.update(_group(product_rank, TOP_PRODUCTS, "other products"))
    links: dict[tuple[str, str], Decimal] = defaultdict(Decimal)

    def add(source: str, target: str, amount: Decimal) -> None:
        if amount and source != target:
            links[(source, target)] += amount

    for node, split in shares.items():
        if kind.get(node) in ("shared", "platform", "product"):
            for provider, share in split.items():
                add(provider, label[node], direct[node] * share)
    for r in flows:
        source, target, amount = r["from_node"], r["to_node"], r["amount"]
        if kind.get(source) == "resource" and target in label:
            for provider, share in shares.get(source, {}).items():
                add(provider, label[target], amount * share)
        elif (
            kind.get(source) in ("shared", "platform") and kind.get(target) == "product"
        ):
            add(label[source], label[target], amount)
    for r in nodes:
        if r["node_type"] == "resource" and r["retained"]:
            for provider, share in shares.get(r["node_id"], {}).items():
                add(provider, "unallocated", r["retained"] * share)
        elif r["node_type"] in ("shared", "platform") and r["retained"]:
            add(label[r["node_id"]], "unallocated", r["retained"])
    columns = {p: 0 for s in shares.values() for p in s}
    columns.update({v: 1 for k, v in label.items() if kind[k] != "product"})
    columns.update({v: 2 for k, v in label.items() if kind[k] == "product"})
    columns["unallocated"] = 2
    rounded = {k: v.quantize(Decimal("0.000001")) for k, v in links.items() if v > 0}
    return rounded, columns
