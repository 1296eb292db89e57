"""Product detail: one product's holistic cost, where it came from, per unit."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builder

from finops_tools.dashboards.panels import (
    Grid,
    any_of,
    grid_table,
    money_stat,
    node_graph,
    series,
    sql,
)

__all__ = ["UID", "build"]

UID = "finops-product"
_DIM = any_of("dimension", "dimension")
_PRODUCT = "${product:sqlstring}"


def build() -> builder.Dashboard:
    grid = Grid()
    for title, column, description in (
        ("Holistic cost", "holistic", "Direct plus every shared service's part."),
        ("Direct cost", "direct", "Cost billed to the product itself."),
        ("From shared services", "indirect", "What upstream nodes passed on to it."),
    ):
        grid.place(
            money_stat(
                title,
                description,
                sql(
                    f"SELECT sum({column}) AS {column} FROM grafana_node_costs_daily"
                    f' WHERE node_id = {_PRODUCT} AND $__timeFilter("time")'
                    f" AND {_DIM}",
                    (column,),
                ),
            ),
            8,
            4,
        )
    grid.place(
        series(
            "Holistic cost over time: direct and each shared service",
            "Per day: the product's direct cost and what each parent passed on.",
            [
                sql(
                    "SELECT \"time\", 'direct' AS metric, sum(direct) AS value"
                    " FROM grafana_node_costs_daily WHERE node_id = "
                    f'{_PRODUCT} AND $__timeFilter("time") AND {_DIM}'
                    ' GROUP BY 1, 2 UNION ALL SELECT "time", from_node, sum(amount)'
                    f" FROM grafana_flows_daily WHERE to_node = {_PRODUCT}"
                    f' AND $__timeFilter("time") AND {_DIM} GROUP BY 1, 2'
                    " ORDER BY 1, 2",
                    ("time", "metric", "value"),
                    fmt="time_series",
                )
            ],
            "currencyUSD",
        ),
        24,
        9,
    )
    grid.place(
        node_graph(
            "Upstream tree",
            "The nodes whose cost reached the product (up to four levels), amounts"
            " on the edges.",
            [
                sql(_UPSTREAM_NODES, ("id", "title", "subtitle", "mainstat"), ref="A"),
                sql(_UPSTREAM_EDGES, ("id", "source", "target", "mainstat"), ref="B"),
            ],
        ),
        12,
        12,
    )
    grid.place(
        grid_table(
            "Unit cost and margin",
            "Holistic cost per unit of each usage metric stored for the product"
            " (requests, users, ...); margin where a revenue metric is ingested.",
            sql(
                _UNIT_COST,
                ("metric", "units", "holistic", "cost_per_unit", "revenue", "margin"),
            ),
        ),
        12,
        12,
    )
    return grid.add_to(builder.Dashboard("FinOps: product detail").uid(UID))


# The upstream tree: flows into the product, then into those parents, four levels.
_TREE = (
    "WITH RECURSIVE f AS (SELECT from_node, to_node, sum(amount) AS amount"
    ' FROM grafana_flows_daily WHERE $__timeFilter("time") AND '
    + _DIM
    + " GROUP BY 1, 2), up AS (SELECT from_node, to_node, amount, 1 AS depth FROM f"
    f" WHERE to_node = {_PRODUCT} UNION SELECT f.from_node, f.to_node, f.amount,"
    " up.depth + 1 FROM f JOIN up ON f.to_node = up.from_node WHERE up.depth < 4)"
)
_UPSTREAM_EDGES = (
    _TREE + " SELECT DISTINCT from_node || '>' || to_node AS id, from_node AS source,"
    " to_node AS target, round(amount, 2) AS mainstat FROM up ORDER BY 1"
)
_UPSTREAM_NODES = (
    _TREE + " SELECT n.node_id AS id, n.node_id AS title, n.node_type AS subtitle,"
    " round(coalesce(sum(c.holistic), 0), 2) AS mainstat FROM grafana_nodes n"
    " LEFT JOIN grafana_node_costs_daily c ON c.node_id = n.node_id"
    ' AND $__timeFilter(c."time") WHERE n.node_id IN (SELECT from_node FROM up'
    f" UNION SELECT {_PRODUCT}) GROUP BY 1, 2, 3 ORDER BY 1"
)
_UNIT_COST = (
    "WITH cost AS (SELECT sum(holistic) AS holistic FROM grafana_node_costs_daily"
    f' WHERE node_id = {_PRODUCT} AND $__timeFilter("time") AND {_DIM}),'
    " used AS (SELECT metric, sum(value) AS units FROM grafana_node_usage_daily"
    f' WHERE node_id = {_PRODUCT} AND $__timeFilter("time") GROUP BY 1),'
    " revenue AS (SELECT sum(units) AS revenue FROM used WHERE metric = 'revenue')"
    " SELECT used.metric, used.units, cost.holistic,"
    " cost.holistic / nullif(used.units, 0) AS cost_per_unit, revenue.revenue,"
    " revenue.revenue - cost.holistic AS margin FROM used, cost, revenue"
    " WHERE used.metric <> 'revenue' ORDER BY 1"
)
