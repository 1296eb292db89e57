"""Read-side SQL of the ingest service: runs, rejects, lines, what sources state."""

from __future__ import annotations

from typing import Final

__all__ = [
    "COSTS_ON",
    "FIND_DELIVERY",
    "GET_RUN",
    "REJECTS",
    "RULES_BODY",
    "RUN_LINES",
    "TRACE",
    "USAGE_ON",
]

RULES_BODY: Final = "SELECT body FROM ingest_rule_sets WHERE rules_id = $1"
FIND_DELIVERY: Final = """
SELECT * FROM ingest_runs
WHERE delivery_key = $1 AND status = 'succeeded' AND superseded_by IS NULL"""
GET_RUN: Final = "SELECT * FROM ingest_runs WHERE ingest_id = $1"
COSTS_ON: Final = """
SELECT node_id, charge_date, dimension, (amount * 1000000)::bigint AS micros
FROM node_costs_by_dimension WHERE source = $1 AND charge_date = ANY($2::date[])
ORDER BY charge_date, node_id, dimension"""
USAGE_ON: Final = """
SELECT node_id, usage_date, metric, labels::text AS labels, value::float8 AS value
FROM node_usage_by_dimension WHERE source = $1 AND usage_date = ANY($2::date[])
ORDER BY usage_date, node_id, metric, labels_key"""
REJECTS: Final = """
SELECT file, line, reason FROM ingest_rejects WHERE ingest_id = $1 ORDER BY seq"""
TRACE: Final = """
SELECT l.ingest_id, r.file_name, l.line, l.source, l.provider, l.billing_account_id,
    l.service_name, l.resource_id, l.charge_period_start, l.charge_period_end, l.cost,
    l.node, l.dimension
FROM cost_lines l JOIN ingest_runs r USING (ingest_id)
WHERE l.node = $1 AND l.dimension = $3
  AND l.charge_period_start < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'
  AND l.charge_period_start >= ($2::date - 3661)::timestamp AT TIME ZONE 'UTC'
  AND (l.charge_period_end > $2::timestamp AT TIME ZONE 'UTC'
       OR (l.charge_period_end = l.charge_period_start
           AND l.charge_period_start >= $2::timestamp AT TIME ZONE 'UTC'))
ORDER BY l.ingest_id, l.line LIMIT $4"""
RUN_LINES: Final = """
SELECT l.ingest_id, r.file_name, l.line, l.source, l.provider, l.billing_account_id,
    l.service_name, l.resource_id, l.charge_period_start, l.charge_period_end, l.cost,
    l.node, l.dimension
FROM cost_lines l JOIN ingest_runs r USING (ingest_id)
WHERE l.ingest_id = $1 ORDER BY l.line LIMIT $2 OFFSET $3"""
