"""Budgets and actions: spend, forecast, thresholds; alerts, deliveries, actions."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builder

from finops_tools.dashboards.panels import Grid, any_of, bars, grid_table, series, sql

__all__ = ["UID", "build"]

UID = "finops-budgets"
_BUDGET = any_of("budget_id", "budget")


def build() -> builder.Dashboard:
    grid = Grid()
    grid.place(
        grid_table(
            "Budgets: spend, forecast, thresholds",
            "Every budget with its amount, the spend and forecast of its latest"
            " evaluation that crossed or resolved a threshold, and the thresholds"
            " firing now.",
            sql(
                "SELECT budget_id, name, period, amount, currency,"
                " coalesce(node_month_spent, alert_spent) AS spent,"
                " alert_forecast AS forecast, thresholds, thresholds_firing,"
                f" last_alert_at FROM grafana_budgets WHERE {_BUDGET} ORDER BY 1",
                (
                    "budget_id",
                    "name",
                    "period",
                    "amount",
                    "currency",
                    "spent",
                    "forecast",
                    "thresholds",
                    "thresholds_firing",
                    "last_alert_at",
                ),
            ),
        ),
        24,
        8,
    )
    grid.place(
        grid_table(
            "Threshold state",
            "Per budget, period and threshold: crossed now or not, and how often.",
            sql(
                "SELECT budget_id, period_start, percent, basis, firing, crossings,"
                f" updated_at FROM grafana_budget_thresholds WHERE {_BUDGET}"
                " ORDER BY 1, 2, 3",
                (
                    "budget_id",
                    "period_start",
                    "percent",
                    "basis",
                    "firing",
                    "crossings",
                    "updated_at",
                ),
            ),
        ),
        12,
        8,
    )
    grid.place(
        grid_table(
            "Alerts",
            "Every alert and resolution in the window, as published.",
            sql(
                'SELECT "time", budget_id, status, percent, basis, spent, forecast,'
                ' budget_amount FROM grafana_alerts WHERE $__timeFilter("time")'
                f' AND {_BUDGET} ORDER BY "time" DESC',
                (
                    "time",
                    "budget_id",
                    "status",
                    "percent",
                    "basis",
                    "spent",
                    "forecast",
                    "budget_amount",
                ),
            ),
        ),
        12,
        8,
    )
    grid.place(
        bars(
            "Webhook deliveries by status",
            "Deliveries (one per message and target): delivered, pending (retrying)"
            " or dead letters.",
            sql(
                "SELECT target_kind || ' ' || status AS delivery, count(*) AS"
                " deliveries FROM grafana_webhook_deliveries"
                ' WHERE $__timeFilter("time") GROUP BY 1 ORDER BY 1',
                ("delivery", "deliveries"),
            ),
            "none",
        ),
        8,
        8,
    )
    grid.place(
        series(
            "Delivery attempts and retries",
            "Attempts per hour by outcome; more attempts than deliveries are retries.",
            [
                sql(
                    'SELECT date_trunc(\'hour\', "time") AS "time", outcome AS'
                    " metric, count(*) AS value FROM grafana_webhook_attempts"
                    ' WHERE $__timeFilter("time") GROUP BY 1, 2 ORDER BY 1, 2',
                    ("time", "metric", "value"),
                    fmt="time_series",
                )
            ],
            "none",
        ),
        16,
        8,
    )
    grid.place(
        grid_table(
            "Actions and their states",
            "Shutdown action runs: which alert started them, their targets, state.",
            sql(
                'SELECT "time", action_id, state, targets, alert_id, updated_at'
                ' FROM grafana_action_runs WHERE $__timeFilter("time")'
                ' ORDER BY "time" DESC',
                ("time", "action_id", "state", "targets", "alert_id", "updated_at"),
            ),
        ),
        12,
        8,
    )
    grid.place(
        grid_table(
            "Action audit",
            "Who or what did what to each run (approve, execute, reverse).",
            sql(
                'SELECT "time", run_id, actor, event FROM grafana_action_audit'
                ' WHERE $__timeFilter("time") ORDER BY "time" DESC',
                ("time", "run_id", "actor", "event"),
            ),
        ),
        12,
        8,
    )
    return grid.add_to(builder.Dashboard("FinOps: budgets and actions").uid(UID))
