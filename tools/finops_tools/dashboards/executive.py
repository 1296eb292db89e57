"""Executive overview: where the money goes, who carries it, what burns."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builder

from finops_tools.dashboards.panels import (
    Grid,
    any_of,
    bars,
    gauges,
    grid_table,
    money_stat,
    number_stat,
    pie,
    series,
    sql,
)

__all__ = ["UID", "build"]

UID = "finops-executive"
_LINES = (
    'FROM grafana_cost_lines WHERE $__timeFilter("time")'
    f" AND {any_of('provider', 'provider')}"
    f" AND {any_of('service_category', 'service_category')}"
)
_NODES = (
    'FROM grafana_node_costs_daily WHERE $__timeFilter("time")'
    f" AND {any_of('dimension', 'dimension')}"
)


def build() -> builder.Dashboard:
    grid = Grid()
    grid.place(
        money_stat(
            "Raw cost",
            "Every direct cost stored for the window (bill lines and node costs).",
            sql(f"SELECT sum(direct) AS raw_cost {_NODES}", ("raw_cost",)),
        ),
        6,
        4,
    )
    grid.place(
        money_stat(
            "Allocated to products",
            "Holistic cost that reached products.",
            sql(
                f"SELECT sum(holistic) AS allocated {_NODES} AND node_type = 'product'",
                ("allocated",),
            ),
        ),
        6,
        4,
    )
    grid.place(
        money_stat(
            "Unallocated",
            "What shared, platform and resource nodes kept (no edge took it on).",
            sql(
                f"SELECT sum(retained) AS unallocated {_NODES}"
                " AND node_type <> 'product'",
                ("unallocated",),
            ),
        ),
        6,
        4,
    )
    grid.place(
        number_stat(
            "Allocation coverage",
            "Allocated to products / raw cost.",
            sql(
                "SELECT 100 * sum(holistic) FILTER (WHERE node_type = 'product')"
                f" / nullif(sum(direct), 0) AS coverage_percent {_NODES}",
                ("coverage_percent",),
            ),
            "percent",
        ),
        6,
        4,
    )
    grid.place(
        pie(
            "Spend by provider",
            "Which provider takes what share of the bill lines (the rules' cost).",
            sql(
                f"SELECT provider, sum(cost) AS cost {_LINES}"
                " GROUP BY 1 ORDER BY 2 DESC",
                ("provider", "cost"),
            ),
        ),
        8,
        9,
    )
    grid.place(
        pie(
            "Production vs non-production",
            "Bill lines by their env tag (prod or production: production).",
            sql(
                "SELECT CASE WHEN lower(coalesce(tags ->> 'env',"
                " tags ->> 'environment')) IN ('prod', 'production') THEN 'production'"
                " WHEN coalesce(tags ->> 'env', tags ->> 'environment') IS NULL"
                " THEN 'untagged' ELSE 'non-production' END AS environment,"
                f" sum(cost) AS cost {_LINES} GROUP BY 1 ORDER BY 2 DESC",
                ("environment", "cost"),
            ),
        ),
        8,
        9,
    )
    grid.place(
        gauges(
            "Month to date vs budget",
            "Spend as a percent of each budget (its latest evaluation; node budgets"
            " from the stored results).",
            sql(
                "SELECT name AS budget, round(100 * coalesce(node_month_spent,"
                " alert_spent, 0) / amount, 2) AS percent_used"
                " FROM grafana_budgets ORDER BY 2 DESC",
                ("budget", "percent_used"),
            ),
        ),
        8,
        9,
    )
    grid.place(
        bars(
            "Spend by provider and service",
            "Bill-line cost per provider and service name.",
            sql(
                "SELECT provider || ' / ' || coalesce(service_name, 'unknown')"
                f" AS service, sum(cost) AS cost {_LINES}"
                " GROUP BY 1 ORDER BY 2 DESC LIMIT 15",
                ("service", "cost"),
            ),
            "currencyUSD",
        ),
        12,
        9,
    )
    grid.place(
        bars(
            "Top products",
            "Products by holistic cost (direct plus every shared service's part).",
            sql(
                f"SELECT node_id AS product, sum(holistic) AS holistic {_NODES}"
                " AND node_type = 'product' GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
                ("product", "holistic"),
            ),
            "currencyUSD",
        ),
        12,
        9,
    )
    grid.place(
        series(
            "Allocated and unallocated per day",
            "Each day's cost reaching products and what stayed upstream.",
            [
                sql(
                    'SELECT "time", sum(holistic) FILTER (WHERE node_type ='
                    " 'product') AS allocated, sum(retained) FILTER (WHERE node_type"
                    f" <> 'product') AS unallocated {_NODES} GROUP BY 1 ORDER BY 1",
                    ("time", "allocated", "unallocated"),
                    fmt="time_series",
                )
            ],
            "currencyUSD",
        ),
        16,
        8,
    )
    grid.place(
        grid_table(
            "Alerts fired",
            "Budget alerts and resolutions in the window.",
            sql(
                'SELECT "time", budget_id, status, percent, basis, spent, forecast'
                ' FROM grafana_alerts WHERE $__timeFilter("time")'
                ' ORDER BY "time" DESC',
                (
                    "time",
                    "budget_id",
                    "status",
                    "percent",
                    "basis",
                    "spent",
                    "forecast",
                ),
            ),
        ),
        8,
        8,
    )
    return grid.add_to(builder.Dashboard("FinOps: executive overview").uid(UID))
