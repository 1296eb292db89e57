"""The dashboards as code: committed JSON equals the generator's, every query is
well-formed, and metric names follow Prometheus conventions."""

from __future__ import annotations

import re
from pathlib import Path

from finops_tools.dashboards.catalog import DASHBOARDS, build_all, sql_targets
from finops_tools.dashboards.variables import VARIABLES
from tests.support.grafana_sql import Choice, interpolate
from tests.support.promql_names import prom_targets, selected_metrics

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "deploy" / "grafana" / "dashboards"
SERVICES = ROOT / "services"
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def test_committed_dashboards_equal_the_generator_output() -> None:
    built = {b.spec.file: b.text for b in build_all()}
    committed = {p.name: p.read_text() for p in FOLDER.glob("*.json")}
    assert set(committed) == set(built), "run: finops dashboards build"
    for name, text in built.items():
        assert committed[name] == text, f"{name} drifted; run: finops dashboards build"


def test_there_are_six_dashboards_linked_by_tag_with_unique_uids() -> None:
    dashboards = [b.as_json() for b in build_all()]
    assert len(dashboards) == len(DASHBOARDS) == 6
    assert len({d["uid"] for d in dashboards}) == 6
    for dashboard in dashboards:
        assert "finops" in dashboard["tags"]
        (link,) = dashboard["links"]
        assert link["tags"] == ["finops"] and link["keepTime"] and link["includeVars"]


def test_every_panel_has_a_query_and_its_variables_are_defined() -> None:
    for built in build_all():
        dashboard = built.as_json()
        defined = {v["name"] for v in dashboard["templating"].get("list", [])}
        for panel in dashboard["panels"]:
            if panel["type"] == "row":
                continue
            assert panel.get("targets"), f"{built.spec.file}: {panel['title']}"
            for target in panel["targets"]:
                text = target.get("rawSql") or target["expr"]
                used = {a or b for a, b in _VARIABLE.findall(text)}
                used = {u for u in used if not u.startswith("__")}
                assert used <= defined, (built.spec.file, panel["title"], used)


def test_every_sql_target_names_its_columns_and_interpolates() -> None:
    choices = {name: Choice(("x",), multi=v.multi) for name, v in VARIABLES.items()}
    choices["group_by"] = Choice(("provider",), multi=False)
    from datetime import UTC, datetime

    for built in build_all():
        for title, target in sql_targets(built):
            assert target.columns, title
            sql = interpolate(
                target.raw_sql,
                start=datetime(2025, 1, 1, tzinfo=UTC),
                end=datetime(2025, 2, 1, tzinfo=UTC),
                choices=choices,
            )
            assert "$" not in sql, (title, sql)


def test_every_promql_expression_parses_and_names_follow_conventions() -> None:
    exprs = [e for b in build_all() for _, e in prom_targets(b.as_json())]
    assert len(exprs) >= 8
    for expr in exprs:
        for selected in selected_metrics(expr):
            if selected.regex or selected.name == "up":
                continue
            name = selected.name
            assert name.startswith("finops_"), name
            assert name.endswith(
                (
                    "_total",
                    "_seconds_bucket",
                    "_seconds_count",
                    "_seconds_sum",
                    "_seconds",  # a gauge of seconds
                    "_messages",
                )
            ), f"{name}: counters end _total, durations _seconds (base units)"


def test_metric_names_declared_by_the_services_follow_conventions() -> None:
    declared = re.compile(r'\(\s*f?"(finops_[a-z_{}]+)"', re.M)
    for module in SERVICES.glob("*/*/metrics.py"):
        for name in declared.findall(module.read_text()):
            assert re.fullmatch(r"finops_[a-z]+_[a-z_{}]+", name), name
            assert name.endswith(("_total", "_seconds", "_messages")), (
                f"{module}: {name} is not a counter (_total), duration (_seconds) or"
                " count of messages"
            )
