"""Where a budget's spend comes from: stored allocation results (node and organisation
scopes, kept in memory per day) and stored bill lines (filter scopes, by SQL)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import asyncpg
import numpy as np
from numpy.typing import NDArray

from finops.domain.budgets import FILTER_COLUMNS
from finops.domain.money import to_micros

__all__ = [
    "DaySpend",
    "filter_daily",
    "filter_resources",
    "filter_sql",
    "glob_to_pg_regex",
]

# Micro-units as integers straight from PostgreSQL (exact: six decimals times 10^6).
_DAYS = """
SELECT node_id, charge_date, (sum(holistic) * 1000000)::bigint AS holistic,
       (sum(direct) * 1000000)::bigint AS direct
FROM allocation_results WHERE charge_date = ANY($1::date[])
GROUP BY node_id, charge_date"""
_DIMENSION_DAYS = """
SELECT charge_date, sum(holistic) AS holistic FROM allocation_results
WHERE node_id = $1 AND dimension = $2 AND charge_date >= $3 AND charge_date < $4
GROUP BY charge_date"""


class DaySpend:
    """Allocated cost per day and node (all dimensions), and the organisation's direct
    total per day, read from allocation_results a day at a time and kept as one
    integer column per node; a day an event touched is read again."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.index: dict[str, int] = {}  # node -> its column
        self.days: dict[date, NDArray[np.int64]] = {}
        self.organisation: dict[date, int] = {}

    async def ensure(self, days: Iterable[date], *, refresh: set[date]) -> None:
        """Load the days not held yet, and read again those in `refresh` held."""
        wanted = {d for d in days if d not in self.days} | (refresh & set(self.days))
        if not wanted:
            return
        rows = await self._pool.fetch(_DAYS, sorted(wanted))
        for row in rows:
            self.index.setdefault(row["node_id"], len(self.index))
        loaded = {d: np.zeros(len(self.index), np.int64) for d in wanted}
        organisation = dict.fromkeys(wanted, 0)
        index = self.index
        for node, day, holistic, direct in rows:
            loaded[day][index[node]] = holistic
            organisation[day] += direct
        self.days.update(loaded)
        self.organisation.update(organisation)

    def cumulative(self, first: date, end: date) -> NDArray[np.int64]:
        """Per node, the spend of the period's first k days, for k = 0..days (row k):
        one array per period makes every budget's sums two lookups."""
        span = (end - first).days
        columns = len(self.index)
        matrix = np.zeros((span + 1, columns), np.int64)
        for k in range(span):
            held = self.days.get(first + timedelta(days=k))
            if held is not None:
                matrix[k + 1, : len(held)] = held
        return np.cumsum(matrix, axis=0)

    def node_daily(self, node: str, first: date, end: date) -> dict[date, int]:
        column = self.index.get(node)
        out: dict[date, int] = {}
        if column is None:
            return out
        day = first
        while day < end:
            held = self.days.get(day)
            if held is not None and column < len(held) and held[column]:
                out[day] = int(held[column])
            day += timedelta(days=1)
        return out

    def organisation_daily(self, first: date, end: date) -> dict[date, int]:
        return {d: v for d, v in self.organisation.items() if first <= d < end}

    async def node_dimension_daily(
        self, node: str, dimension: str, first: date, end: date
    ) -> dict[date, int]:
        rows = await self._pool.fetch(_DIMENSION_DAYS, node, dimension, first, end)
        return {r["charge_date"]: to_micros(r["holistic"]) for r in rows}


def glob_to_pg_regex(pattern: str) -> str:
    """An anchored PostgreSQL regular expression for a case-sensitive glob, matching
    as the ingest mapping rules do (`*`, `?`, `[abc]`, `[!abc]`)."""
    out, i = ["^"], 0
    while i < len(pattern):
        char, close = pattern[i], pattern.find("]", i + 2)
        if char == "[" and close > 0:
            inner = pattern[i + 1 : close].replace("\\", "\\\\")
            out.append(
                "[" + ("^" + inner[1:] if inner.startswith("!") else inner) + "]"
            )
            i = close + 1
            continue
        out.append(
            {"*": ".*", "?": "."}.get(char) or re.sub(r"([^\w\s])", r"\\\1", char)
        )
        i += 1
    return "".join(out) + "$"


def filter_sql(conditions: dict[str, str], first_arg: int) -> tuple[str, list[Any]]:
    """SQL conditions over cost_lines for a filter (`*` = present), and their args."""
    parts: list[str] = []
    args: list[Any] = []
    for name, pattern in sorted(conditions.items()):
        if name.startswith("Tags."):
            args.append(name.removeprefix("Tags."))
            column = f"(tags::jsonb ->> ${first_arg + len(args) - 1})"
        else:
            column = FILTER_COLUMNS[name]
        if pattern == "*":
            parts.append(f"{column} IS NOT NULL")
            continue
        args.append(glob_to_pg_regex(pattern))
        parts.append(f"{column} ~ ${first_arg + len(args) - 1}")
    return " AND ".join(parts) or "true", args


async def filter_daily(
    pool: asyncpg.Pool, conditions: dict[str, str], first: date, end: date
) -> dict[date, int]:
    """Billed cost per charge date of the stored bill lines matching a filter."""
    where, args = filter_sql(conditions, 3)
    query = f"""
    SELECT (charge_period_start AT TIME ZONE 'UTC')::date AS day,
           sum(coalesce(billed_cost, cost)) AS spent
    FROM cost_lines
    WHERE charge_period_start >= ($1::date::timestamp AT TIME ZONE 'UTC')
      AND charge_period_start < ($2::date::timestamp AT TIME ZONE 'UTC') AND {where}
    GROUP BY 1"""
    rows = await pool.fetch(query, first, end, *args)
    out: defaultdict[date, int] = defaultdict(int)
    for row in rows:
        out[row["day"]] += to_micros(row["spent"])
    return dict(out)


async def filter_resources(
    conn: Any, conditions: dict[str, str], first: date, end: date
) -> list[dict[str, Any]]:
    """The resources of the bill lines of [first, end) matching a filter."""
    where, args = filter_sql(conditions, 3)
    query = f"""
    SELECT DISTINCT resource_id, resource_name, resource_type, provider, region_id,
           sub_account_id
    FROM cost_lines
    WHERE resource_id IS NOT NULL
      AND charge_period_start >= ($1::date::timestamp AT TIME ZONE 'UTC')
      AND charge_period_start < ($2::date::timestamp AT TIME ZONE 'UTC') AND {where}
    ORDER BY resource_id"""
    rows = await conn.fetch(query, first, end, *args)
    return [dict(r) for r in rows]
