"""Cost explorer: any FOCUS field or tag against time, a table to drill down."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builder

from finops_tools.dashboards.panels import Grid, any_of, grid_table, series, sql

__all__ = ["UID", "build"]

UID = "finops-explorer"
_FILTER = (
    '$__timeFilter("time")'
    f" AND {any_of('provider', 'provider')}"
    f" AND {any_of('service_category', 'service_category')}"
    f" AND {any_of('dimension', 'dimension')}"
)
_TAGGED = f" AND ({any_of('tags ->> ${tag_key:sqlstring}', 'tag_value')})"


def build() -> builder.Dashboard:
    grid = Grid()
    grid.place(
        series(
            "Cost by ${group_by} per day",
            "Bill-line cost per day, one line per value of the chosen FOCUS field.",
            [
                sql(
                    'SELECT date_trunc(\'day\', "time") AS "time",'
                    " coalesce(${group_by}::text, 'none') AS metric,"
                    f" sum(cost) AS value FROM grafana_cost_lines WHERE {_FILTER}"
                    f"{_TAGGED} GROUP BY 1, 2 ORDER BY 1, 2",
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
        series(
            "Cost by tag ${tag_key} per day",
            "Bill-line cost per day and value of the chosen tag key.",
            [
                sql(
                    'SELECT date_trunc(\'day\', "time") AS "time",'
                    " coalesce(tags ->> ${tag_key:sqlstring}, 'untagged') AS metric,"
                    f" sum(cost) AS value FROM grafana_cost_lines WHERE {_FILTER}"
                    " GROUP BY 1, 2 ORDER BY 1, 2",
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
        grid_table(
            "Drill down",
            "The cost per provider, service, account, region, resource and node of"
            " the lines that match; sort or filter any column.",
            sql(
                "SELECT provider, service_category, service_name, sub_account_id,"
                " region_id, resource_id, node, dimension, count(*) AS lines,"
                f" sum(cost) AS cost FROM grafana_cost_lines WHERE {_FILTER}"
                f"{_TAGGED} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY cost DESC"
                " LIMIT 500",
                (
                    "provider",
                    "service_category",
                    "service_name",
                    "sub_account_id",
                    "region_id",
                    "resource_id",
                    "node",
                    "dimension",
                    "lines",
                    "cost",
                ),
            ),
        ),
        24,
        12,
    )
    return grid.add_to(builder.Dashboard("FinOps: cost explorer").uid(UID))
