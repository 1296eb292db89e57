"""Pull specs, the days a pull covers and how label sets become usage rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from finops.domain.usage_pull import (
    PullSpec,
    Series,
    day_of_instant,
    evaluation_instants,
    load_pulls,
    month_chunks,
    periodic_window,
    render_node,
    to_usage_rows,
)
from finops.errors import ConfigError


def test_each_day_is_the_query_at_its_end() -> None:
    start, end = evaluation_instants(date(2024, 9, 1), date(2024, 9, 3))
    assert datetime.fromtimestamp(start, UTC) == datetime(2024, 9, 2, tzinfo=UTC)
    assert datetime.fromtimestamp(end, UTC) == datetime(2024, 9, 4, tzinfo=UTC)
    assert day_of_instant(start) == date(2024, 9, 1)


def test_queries_are_cut_at_month_ends() -> None:
    assert month_chunks(date(2024, 1, 30), date(2024, 3, 2)) == [
        (date(2024, 1, 30), date(2024, 1, 31)),
        (date(2024, 2, 1), date(2024, 2, 29)),
        (date(2024, 3, 1), date(2024, 3, 2)),
    ]


def test_a_periodic_pull_restates_whole_months_up_to_yesterday() -> None:
    assert periodic_window(date(2024, 9, 15), 2) == (
        date(2024, 9, 1),
        date(2024, 9, 14),
    )
    assert periodic_window(date(2024, 9, 2), 2) == (date(2024, 8, 1), date(2024, 9, 1))
    assert periodic_window(date(2024, 9, 1), 1) == (date(2024, 8, 1), date(2024, 8, 31))


def test_a_node_needs_every_label_its_template_names() -> None:
    assert render_node("svc-{app}-{env}", {"app": "shop", "env": "prod"}) == (
        "svc-shop-prod"
    )
    assert render_node("svc-{app}", {"env": "prod"}) == ""
    assert render_node("{app}", {"app": ""}) == ""


def test_rows_keep_values_as_prometheus_wrote_them_and_name_unmapped_series() -> None:
    series = [
        Series({"app": "shop"}, [(1725235200.0, "3"), (1725321600.0, "NaN")]),
        Series({"instance": "x"}, [(1725235200.0, "1")]),
    ]
    pulled = to_usage_rows(series, metric="requests", node="{app}")
    assert [(r["node"], r["date"], r["value"]) for r in pulled.rows] == [
        ("", "2024-09-01", "1"),
        ("shop", "2024-09-01", "3"),
        ("shop", "2024-09-02", "NaN"),
    ]
    assert pulled.unmapped == [{"instance": "x"}]


def test_pull_files_are_checked_with_their_path(tmp_path: Path) -> None:
    path = tmp_path / "pulls.yaml"
    path.write_text(
        "pulls:\n  - {name: a, prometheus: 'http://127.0.0.1:9090', query: up,"
        " metric: up, node: '{job}', interval: 15m}\n"
    )
    (spec,) = load_pulls(path)
    assert spec.interval_s == 900 and spec.source_name == "prometheus:a"
    path.write_text("pulls:\n  - {name: a, prometheus: x, query: up, metric: up}\n")
    with pytest.raises(ConfigError, match=r"pulls\.yaml: invalid pulls"):
        load_pulls(path)


def test_a_node_template_must_name_a_label() -> None:
    with pytest.raises(ValueError, match="names no label"):
        PullSpec(name="a", prometheus="http://h", query="up", metric="up", node="fixed")
