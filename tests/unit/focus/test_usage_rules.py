"""One rule for usage on every path: finite, non-negative; repeats summed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from finops.domain.focus.usage import combine_usage, read_usage, usage_value_problem
from finops.domain.records import UsageRecord
from finops.errors import InputError
from finops.formats.inputfiles import load_usage


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (0.0, None),
        (2.5, None),
        (-1.0, "is negative"),
        (float("nan"), "is not a finite number"),
    ],
)
def test_usage_value_problem(value: float, problem: str | None) -> None:
    assert usage_value_problem(value) == problem


def test_repeated_rows_are_summed_per_node_date_metric_and_labels() -> None:
    day = date(2025, 3, 1)
    records = [
        UsageRecord(
            node="shop", date=day, metric="req", value=1, labels={"a": 1, "b": 2}
        ),
        UsageRecord(
            node="shop", date=day, metric="req", value=2, labels={"b": 2, "a": 1}
        ),
        UsageRecord(node="shop", date=day, metric="req", value=4, labels={"a": 2}),
        UsageRecord(node="shop", date=day, metric="cpu", value=8),
    ]
    combined = combine_usage(records)
    assert [(r.metric, r.labels, r.value) for r in combined] == [
        ("req", {"a": 1, "b": 2}, 3.0),
        ("req", {"a": 2}, 4.0),
        ("cpu", {}, 8.0),
    ]


def test_online_and_offline_readers_agree(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    path.write_text(
        "node,date,metric,value\nshop,2025-03-01,req,1\nshop,2025-03-01,req,2\n"
        "blog,2025-03-01,req,5\n"
    )
    online, rejects = read_usage(path)
    assert rejects == []
    offline = load_usage(path)
    per_node_online = {r.node: 0.0 for r in online}
    for r in combine_usage(online):
        per_node_online[r.node] += r.value
    per_node_offline = {
        name: float(offline.value[offline.node == i].sum())
        for i, name in enumerate(offline.node_ids)
    }
    assert per_node_online == per_node_offline == {"shop": 3.0, "blog": 5.0}
    assert np.isfinite(offline.value).all()


def test_negative_usage_is_refused_on_both_paths(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    path.write_text("node,date,metric,value\nshop,2025-03-01,req,-4\n")
    _, rejects = read_usage(path)
    assert [(r.line, r.reason) for r in rejects] == [(2, "value is negative: '-4'")]
    with pytest.raises(InputError, match="usage value is negative"):
        load_usage(path)
