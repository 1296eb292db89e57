"""Panel builders shared by the dashboards: data sources, SQL targets, layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar

from grafana_foundation_sdk.builders import (
    bargauge,
    nodegraph,
    piechart,
    prometheus,
    stat,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import dashboard as builder
from grafana_foundation_sdk.builders.common import ReduceDataOptions
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants
from grafana_foundation_sdk.models.dashboard import (
    DashboardLinkType,
    DataSourceRef,
    GridPos,
)

__all__ = [
    "ALL",
    "POSTGRES",
    "PROMETHEUS",
    "Grid",
    "PromQuery",
    "SqlQuery",
    "any_of",
    "bars",
    "dashboard_links",
    "gauges",
    "grid_table",
    "money_stat",
    "node_graph",
    "number_stat",
    "pie",
    "prom",
    "series",
    "sql",
]

POSTGRES: Final = DataSourceRef(
    type_val="grafana-postgresql-datasource", uid="finops-postgres"
)
PROMETHEUS: Final = DataSourceRef(type_val="prometheus", uid="prometheus")
# A multi-value variable with "All" chosen reads as this (allValue, not quoted again).
ALL: Final = "'__all'"
SqlFormat = Literal["table", "time_series"]


@dataclass
class SqlQuery(variants.Dataquery):
    """A raw SQL target of the PostgreSQL data source, with the columns it returns."""

    raw_sql: str
    columns: tuple[str, ...]
    fmt: SqlFormat = "table"
    ref_id: str = "A"

    def to_json(self) -> dict[str, Any]:
        return {
            "datasource": POSTGRES.to_json(),
            "editorMode": "code",
            "format": self.fmt,
            "rawQuery": True,
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }


@dataclass
class _SqlBuilder(cogbuilder.Builder[variants.Dataquery]):
    query: SqlQuery

    def build(self) -> SqlQuery:
        return self.query


def sql(
    raw_sql: str, columns: tuple[str, ...], *, fmt: SqlFormat = "table", ref: str = "A"
) -> _SqlBuilder:
    """A SQL target; `columns` are the ones it must return (the tests check)."""
    return _SqlBuilder(SqlQuery(" ".join(raw_sql.split()), columns, fmt, ref))


PromQuery = prometheus.Dataquery


def prom(expr: str, legend: str = "", *, ref: str = "A") -> prometheus.Dataquery:
    """A PromQL range target on the Prometheus data source."""
    query = prometheus.Dataquery().expr(" ".join(expr.split())).ref_id(ref).range()
    query = query.datasource(PROMETHEUS)
    return query.legend_format(legend) if legend else query


def any_of(column: str, variable: str) -> str:
    """`column` among a multi-value variable's choices; every row when it is All."""
    return f"({ALL} IN (${variable}) OR {column} IN (${variable}))"


def dashboard_links() -> builder.DashboardLink:
    """A drop-down of every FinOps dashboard, keeping the time range and variables."""
    return (
        builder.DashboardLink("FinOps dashboards")
        .type(DashboardLinkType.DASHBOARDS)
        .tags(["finops"])
        .as_dropdown(True)
        .include_vars(True)
        .keep_time(True)
    )


@dataclass
class Grid:
    """Places panels left to right in rows 24 units wide; gives each an id."""

    x: int = 0
    y: int = 0
    row_height: int = 0
    next_id: int = 1
    placed: list[Any] = field(default_factory=list)

    def place(self, panel: Any, w: int, h: int) -> Any:
        if self.x + w > 24:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        panel.grid_pos(GridPos(h=h, w=w, x=self.x, y=self.y)).id(self.next_id)
        self.next_id += 1
        self.x += w
        self.row_height = max(self.row_height, h)
        self.placed.append(panel)
        return panel

    def row(self, title: str) -> builder.Row:
        self.x, self.y = 0, self.y + self.row_height
        row = builder.Row(title).grid_pos(GridPos(h=1, w=24, x=0, y=self.y))
        row.id(self.next_id)
        self.next_id += 1
        self.y, self.row_height = self.y + 1, 0
        self.placed.append(row)
        return row

    def add_to(self, dashboard: builder.Dashboard) -> builder.Dashboard:
        for panel in self.placed:
            if isinstance(panel, builder.Row):
                dashboard = dashboard.with_row(panel)
            else:
                dashboard = dashboard.with_panel(panel)
        return dashboard


_P = TypeVar(
    "_P",
    stat.Panel,
    piechart.Panel,
    bargauge.Panel,
    timeseries.Panel,
    table.Panel,
    nodegraph.Panel,
)


def _titled(panel: _P, title: str, description: str) -> _P:
    return panel.title(title).description(description)


def money_stat(title: str, description: str, target: Any) -> stat.Panel:
    return (
        _titled(stat.Panel(), title, description)
        .with_target(target)
        .unit("currencyUSD")
    )


def number_stat(title: str, description: str, target: Any, unit: str) -> stat.Panel:
    return _titled(stat.Panel(), title, description).with_target(target).unit(unit)


def pie(title: str, description: str, target: Any) -> piechart.Panel:
    reduce = ReduceDataOptions().values(True).calcs(["lastNotNull"])
    panel = _titled(piechart.Panel(), title, description).with_target(target)
    return panel.reduce_options(reduce).unit("currencyUSD")


def bars(title: str, description: str, target: Any, unit: str) -> bargauge.Panel:
    reduce = ReduceDataOptions().values(True).calcs(["lastNotNull"])
    panel = _titled(bargauge.Panel(), title, description).with_target(target)
    return panel.reduce_options(reduce).unit(unit)


def gauges(title: str, description: str, target: Any) -> bargauge.Panel:
    """Percent of budget used, one bar per budget; red from 100 %."""
    panel = bars(title, description, target, "percent").min(0).max(150)
    steps = [
        _step(None, "green"),
        _step(80.0, "orange"),
        _step(100.0, "red"),
    ]
    thresholds = builder.ThresholdsConfig().mode(_absolute()).steps(steps)
    return panel.thresholds(thresholds)


def _absolute() -> Any:
    from grafana_foundation_sdk.models.dashboard import ThresholdsMode

    return ThresholdsMode.ABSOLUTE


def _step(value: float | None, color: str) -> Any:
    from grafana_foundation_sdk.models.dashboard import Threshold

    return Threshold(value=value, color=color)


def series(
    title: str, description: str, targets: list[Any], unit: str
) -> timeseries.Panel:
    panel = _titled(timeseries.Panel(), title, description).unit(unit)
    for target in targets:
        panel = panel.with_target(target)
    return panel


def grid_table(title: str, description: str, target: Any) -> table.Panel:
    return _titled(table.Panel(), title, description).with_target(target)


def node_graph(title: str, description: str, targets: list[Any]) -> nodegraph.Panel:
    panel = _titled(nodegraph.Panel(), title, description)
    for target in targets:
        panel = panel.with_target(target)
    return panel
