"""Pipeline health: is data flowing, how late, how fast (Prometheus and the views)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builder

from finops_tools.dashboards.panels import (
    Grid,
    grid_table,
    number_stat,
    prom,
    series,
    sql,
)

__all__ = ["UID", "build"]

# The uid of the hand-written dashboard this one replaces, so bookmarks keep working.
UID = "finops-platform-health"


def _p(quantile: float, metric: str, by: str = "") -> str:
    labels = f"le, {by}" if by else "le"
    return (
        f"histogram_quantile({quantile}, sum by ({labels}) (rate({metric}_bucket[5m])))"
    )


def build() -> builder.Dashboard:
    grid = Grid()
    grid.place(
        number_stat(
            "Services up",
            "Services whose /metrics Prometheus scraped at the last attempt.",
            prom('sum(up{job="finops"})'),
            "none",
        ),
        6,
        4,
    )
    grid.place(
        number_stat(
            "Results freshness",
            "Seconds since the allocator last stored results.",
            sql(
                "SELECT results_age_seconds FROM grafana_freshness",
                ("results_age_seconds",),
            ),
            "s",
        ),
        6,
        4,
    )
    grid.place(
        number_stat(
            "Ingest freshness",
            "Seconds since the last delivery ingest stored.",
            sql(
                "SELECT ingest_age_seconds FROM grafana_freshness",
                ("ingest_age_seconds",),
            ),
            "s",
        ),
        6,
        4,
    )
    grid.place(
        number_stat(
            "Latest charge date stored",
            "The newest day the allocator has results for.",
            sql(
                "SELECT latest_charge_date::text AS latest_charge_date"
                " FROM grafana_freshness",
                ("latest_charge_date",),
            ),
            "none",
        ),
        6,
        4,
    )
    grid.place(
        series(
            "Events handled per second, by service and outcome",
            "Every service's Kafka events (finops_<service>_events_total).",
            [
                prom(
                    'sum by (job, outcome) (rate({__name__=~"finops_.*_events_total"}'
                    "[1m]))",
                    "{{job}} {{outcome}}",
                )
            ],
            "ops",
        ),
        12,
        8,
    )
    grid.place(
        series(
            "Ingest rows per second and rejects",
            "Rows read from deliveries by outcome (accepted, rejected).",
            [
                prom(
                    "sum by (format, outcome) (rate(finops_ingest_rows_total[5m]))",
                    "{{format}} {{outcome}}",
                )
            ],
            "rowsps",
        ),
        12,
        8,
    )
    grid.place(
        series(
            "Kafka consumer lag",
            "Messages not yet processed by the allocator's consumer group, by topic.",
            [
                prom(
                    "sum by (job, topic) (finops_allocator_consumer_lag_messages)",
                    "{{topic}}",
                )
            ],
            "none",
        ),
        12,
        8,
    )
    grid.place(
        series(
            "Allocator: event to stored result",
            "From an input event's occurred_at to the results of its date stored"
            " (p50, p95), and each worker's rest between recompute passes (longer"
            " while results are fresher than ALLOCATOR_FRESHNESS_TARGET_S).",
            [
                prom(_p(0.5, "finops_allocator_ingest_to_stored_seconds"), "p50"),
                prom(
                    _p(0.95, "finops_allocator_ingest_to_stored_seconds"),
                    "p95",
                    ref="B",
                ),
                prom(
                    "max by (instance) (finops_allocator_pass_rest_seconds)",
                    "rest {{instance}}",
                    ref="C",
                ),
            ],
            "s",
        ),
        12,
        8,
    )
    grid.place(
        series(
            "API latency",
            "Time to answer a request, by route (p95).",
            [
                prom(
                    _p(0.95, "finops_api_request_duration_seconds", "route"),
                    "{{route}}",
                )
            ],
            "s",
        ),
        12,
        8,
    )
    grid.place(
        series(
            "Webhook latency and attempts",
            "Time from sending a webhook to its answer (p95), attempts by outcome.",
            [
                prom(_p(0.95, "finops_governance_webhook_latency_seconds"), "p95"),
                prom(
                    "sum by (outcome) (rate("
                    "finops_governance_webhook_attempts_total[5m]))",
                    "{{outcome}} attempts/s",
                    ref="B",
                ),
            ],
            "s",
        ),
        12,
        8,
    )
    grid.place(
        series(
            "Ingest delivery duration",
            "Time to read, store and publish one delivery (p95), by format.",
            [
                prom(
                    _p(0.95, "finops_ingest_fetch_duration_seconds", "format"),
                    "{{format}}",
                )
            ],
            "s",
        ),
        12,
        8,
    )
    grid.place(
        grid_table(
            "Latest deliveries",
            "The newest ingest runs with their row counts and rejects.",
            sql(
                'SELECT "time", origin, format, source, status, rows_read,'
                " rows_accepted, rows_rejected FROM grafana_ingest_runs"
                ' WHERE $__timeFilter("time") ORDER BY "time" DESC LIMIT 50',
                (
                    "time",
                    "origin",
                    "format",
                    "source",
                    "status",
                    "rows_read",
                    "rows_accepted",
                    "rows_rejected",
                ),
            ),
        ),
        24,
        8,
    )
    return grid.add_to(builder.Dashboard("FinOps: pipeline health").uid(UID))
