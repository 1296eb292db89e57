"""Every dashboard: its file, variables and links; built to JSON, written, compared."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from grafana_foundation_sdk.builders import dashboard as builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard, DataSourceRef

from finops_tools.dashboards import (
    budgets,
    executive,
    explorer,
    pipeline,
    platform,
    product,
)
from finops_tools.dashboards.panels import (
    POSTGRES,
    PROMETHEUS,
    SqlQuery,
    dashboard_links,
)
from finops_tools.dashboards.variables import group_by_variable, variable

__all__ = [
    "DASHBOARDS",
    "Built",
    "DashboardSpec",
    "build_all",
    "sql_targets",
    "stale_files",
    "write_all",
]


@dataclass(frozen=True)
class DashboardSpec:
    """A dashboard: its file name, builder, variables and default time range."""

    file: str
    make: Callable[[], builder.Dashboard]
    variables: tuple[str, ...]
    time_from: str = "now-90d"


DASHBOARDS: Final = (
    DashboardSpec(
        "executive-overview.json",
        executive.build,
        ("provider", "service_category", "dimension"),
    ),
    DashboardSpec("product-detail.json", product.build, ("product", "dimension")),
    DashboardSpec(
        "platform-shared-services.json",
        platform.build,
        ("dimension", "shared_node"),
    ),
    DashboardSpec(
        "cost-explorer.json",
        explorer.build,
        (
            "group_by",
            "provider",
            "service_category",
            "dimension",
            "tag_key",
            "tag_value",
        ),
    ),
    DashboardSpec("budgets-actions.json", budgets.build, ("budget",)),
    DashboardSpec("pipeline-health.json", pipeline.build, (), time_from="now-6h"),
)


@dataclass(frozen=True)
class Built:
    """One dashboard's model and its JSON text, as committed."""

    spec: DashboardSpec
    model: Dashboard

    @property
    def text(self) -> str:
        return json.dumps(self.model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"

    def as_json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.text)
        return loaded


def _finish(spec: DashboardSpec) -> Dashboard:
    made = (
        spec.make()
        .tags(["finops"])
        .editable()
        .time(spec.time_from, "now")
        .timezone("utc")
        .refresh("1m" if spec.file == "pipeline-health.json" else "")
        .link(dashboard_links())
    )
    for name in spec.variables:
        made = made.with_variable(
            group_by_variable() if name == "group_by" else variable(name)
        )
    model = made.build()
    for panel in model.panels or []:
        targets = getattr(panel, "targets", None) or []
        if targets:
            panel.datasource = _source(targets)
    return model


def _source(targets: list[Any]) -> DataSourceRef:
    """The panel's data source: its targets' one, or Mixed when they differ."""
    kinds = {isinstance(t, SqlQuery) for t in targets}
    if kinds == {True}:
        return POSTGRES
    if kinds == {False}:
        return PROMETHEUS
    return DataSourceRef(type_val="datasource", uid="-- Mixed --")


def build_all() -> list[Built]:
    """Every dashboard, built from the code (nothing read from disk)."""
    return [Built(spec, _finish(spec)) for spec in DASHBOARDS]


def write_all(folder: Path) -> list[Path]:
    """Write every dashboard's JSON into `folder`; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for built in build_all():
        path = folder / built.spec.file
        path.write_text(built.text)
        written.append(path)
    return written


def stale_files(folder: Path) -> list[str]:
    """Files in `folder` that differ from the generator's output, or are extra."""
    wanted = {b.spec.file: b.text for b in build_all()}
    stale = [
        name
        for name, text in wanted.items()
        if not (folder / name).exists() or (folder / name).read_text() != text
    ]
    extra = [p.name for p in folder.glob("*.json") if p.name not in wanted]
    return sorted(stale + extra)


def sql_targets(built: Built) -> Iterator[tuple[str, SqlQuery]]:
    """(panel title, target) of every SQL target of a dashboard."""
    for panel in built.model.panels or []:
        for target in getattr(panel, "targets", None) or []:
            if isinstance(target, SqlQuery):
                yield str(panel.title), target
