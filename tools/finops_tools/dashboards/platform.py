"""Platform and shared services: what each shared node received, passed on, kept."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builder

from finops_tools.dashboards.panels import (
    Grid,
    any_of,
    bars,
    grid_table,
    node_graph,
    series,
    sql,
)

__all__ = ["UID", "build"]

UID = "finops-platform"
_DIM = any_of("dimension", "dimension")
_SHARED = any_of("node_id", "shared_node")
_WINDOW = f'$__timeFilter("time") AND {_DIM}'


def build() -> builder.Dashboard:
    grid = Grid()
    grid.place(
        grid_table(
            "Shared nodes: received, passed on, kept",
            "Per shared or platform node: its own direct cost, what it received from"
            " upstream, what it passed on and what stayed (unallocated).",
            sql(
                "SELECT node_id, node_type, sum(direct) AS direct,"
                " sum(indirect) AS received, sum(allocated_out) AS passed_on,"
                " sum(retained) AS unallocated FROM grafana_node_costs_daily"
                f" WHERE node_type IN ('shared', 'platform') AND {_WINDOW}"
                f" AND {_SHARED} GROUP BY 1, 2 ORDER BY passed_on DESC",
                (
                    "node_id",
                    "node_type",
                    "direct",
                    "received",
                    "passed_on",
                    "unallocated",
                ),
            ),
        ),
        24,
        9,
    )
    grid.place(
        grid_table(
            "Passed on: to whom, by which strategy",
            "Every flow out of the chosen shared nodes, with its strategy and the"
            " range of its stored daily shares.",
            sql(
                "SELECT from_node, to_node, to_type, strategy, sum(amount) AS amount,"
                " min(share) AS min_share, max(share) AS max_share"
                " FROM grafana_flows_daily WHERE from_type IN ('shared', 'platform')"
                f" AND {_WINDOW} AND {any_of('from_node', 'shared_node')}"
                " GROUP BY 1, 2, 3, 4 ORDER BY amount DESC",
                (
                    "from_node",
                    "to_node",
                    "to_type",
                    "strategy",
                    "amount",
                    "min_share",
                    "max_share",
                ),
            ),
        ),
        14,
        10,
    )
    grid.place(
        bars(
            "Passed on by strategy",
            "How much of the shared cost each allocation strategy moved.",
            sql(
                "SELECT strategy, sum(amount) AS amount FROM grafana_flows_daily"
                f" WHERE from_type IN ('shared', 'platform') AND {_WINDOW}"
                f" AND {any_of('from_node', 'shared_node')}"
                " GROUP BY 1 ORDER BY 2 DESC",
                ("strategy", "amount"),
            ),
            "currencyUSD",
        ),
        10,
        10,
    )
    grid.place(
        series(
            "Unallocated shared cost per day",
            "What shared and platform nodes kept, day by day.",
            [
                sql(
                    'SELECT "time", node_id AS metric, sum(retained) AS value'
                    " FROM grafana_node_costs_daily WHERE node_type IN ('shared',"
                    f" 'platform') AND {_WINDOW} AND {_SHARED}"
                    " GROUP BY 1, 2 ORDER BY 1, 2",
                    ("time", "metric", "value"),
                    fmt="time_series",
                )
            ],
            "currencyUSD",
        ),
        24,
        8,
    )
    grid.place(
        node_graph(
            "Cost graph",
            "The nodes that passed or received cost in the window and the amounts on"
            " the edges (the 60 largest flows).",
            [
                sql(_GRAPH_NODES, ("id", "title", "subtitle", "mainstat"), ref="A"),
                sql(_GRAPH_EDGES, ("id", "source", "target", "mainstat"), ref="B"),
            ],
        ),
        24,
        14,
    )
    return grid.add_to(
        builder.Dashboard("FinOps: platform and shared services").uid(UID)
    )


_TOP_FLOWS = (
    "WITH top AS (SELECT from_node, to_node, sum(amount) AS amount"
    f" FROM grafana_flows_daily WHERE {_WINDOW} GROUP BY 1, 2"
    " ORDER BY 3 DESC LIMIT 60)"
)
_GRAPH_EDGES = (
    _TOP_FLOWS + " SELECT from_node || '>' || to_node AS id, from_node AS source,"
    " to_node AS target, round(amount, 2) AS mainstat FROM top ORDER BY 1"
)
_GRAPH_NODES = (
    _TOP_FLOWS + " SELECT n.node_id AS id, n.node_id AS title, n.node_type AS"
    " subtitle, round(coalesce(sum(c.holistic), 0), 2) AS mainstat"
    " FROM grafana_nodes n LEFT JOIN grafana_node_costs_daily c"
    ' ON c.node_id = n.node_id AND $__timeFilter(c."time")'
    " WHERE n.node_id IN (SELECT from_node FROM top UNION SELECT to_node FROM top)"
    " GROUP BY 1, 2, 3 ORDER BY 1"
)
