"""A date's usage columns: a patch holds every row of the nodes whose values changed
since the last table or patch, and the cells that changed, as a fresh table has them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np

from allocator.inputs.columns import UsageRows, usage_table
from allocator.inputs.days import DayInputs, usage_entry
from finops.domain.allocation.tables import UsageTable
from finops.domain.records import UsageRecord

DAY = date(2025, 3, 10)
IDS = ["a", "b", "c", "d"]
INDEX = {n: i for i, n in enumerate(IDS)}
EPOCH = date(1970, 1, 1)

Usage = dict[tuple[str, str], dict[str, float]]


def _entries(
    node: str, *rows: tuple[int, str, float, dict[str, Any]]
) -> dict[str, float]:
    return {
        usage_entry(
            UsageRecord(
                node=node,
                date=DAY - timedelta(days=back),
                metric=metric,
                value=value,
                labels=labels,
            )
        ): value
        for back, metric, value, labels in rows
    }


def _rows(table: UsageTable, nodes: set[str]) -> list[tuple[Any, ...]]:
    """A table's rows of some nodes, by names, sorted."""
    ids = list(table.node_ids)
    columns = (table.node, table.day, table.metric, table.label, table.value)
    return sorted(
        (ids[n], d, table.metrics[m], repr(table.label_sets[lab]), v)
        for n, d, m, lab, v in zip(*(c.tolist() for c in columns), strict=True)
        if ids[n] in nodes
    )


def _day(back: int) -> int:
    return (DAY - timedelta(days=back) - EPOCH).days


def test_a_patch_holds_the_changed_nodes_rows_and_cells() -> None:
    usage: Usage = {
        ("bill", "a"): _entries("a", (0, "req", 1.0, {}), (1, "req", 2.0, {})),
        ("bill", "b"): _entries("b", (0, "cpu", 3.0, {"env": "prod"})),
        ("meter", "b"): _entries("b", (2, "req", 4.0, {})),
        ("bill", "zz"): _entries("zz", (0, "req", 9.0, {})),  # not in the graph
    }
    rows = UsageRows(IDS, INDEX)
    assert rows.patch(usage) is None  # no table yet: the view is not known
    rows.table(usage)
    new: Usage = dict(usage)
    new[("bill", "a")] = _entries("a", (0, "req", 1.0, {}), (1, "req", 5.0, {}))
    del new[("meter", "b")]
    new[("bill", "c")] = _entries("c", (3, "req", 0.5, {"env": "dev"}))
    new[("bill", "zz")] = _entries("zz", (0, "req", 8.0, {}))
    new[("meter", "d")] = _entries("d", (0, "req", 6.0, {}))
    patch = rows.patch(new)
    assert patch is not None
    assert patch.nodes.tolist() == [0, 1, 2, 3]  # every node but the unknown one
    assert patch.cells == {  # b's cpu row and a's first row stay as they were
        (0, _day(1), "req"),
        (1, _day(2), "req"),
        (2, _day(3), "req"),
        (3, _day(0), "req"),
    }
    fresh, _ = usage_table(DayInputs(usage=new), INDEX)
    assert _rows(patch.rows, set(IDS)) == _rows(fresh, set(IDS))
    again = rows.patch(new)
    assert again is not None and again.nodes.size == 0 and not again.cells


def test_a_new_object_with_equal_values_replaces_its_node_without_cells() -> None:
    usage: Usage = {("bill", "a"): _entries("a", (0, "req", 1.0, {}))}
    rows = UsageRows(IDS, INDEX)
    rows.table(usage)
    patch = rows.patch({("bill", "a"): dict(usage[("bill", "a")])})
    assert patch is not None
    assert patch.nodes.tolist() == [0] and not patch.cells
    assert np.array_equal(patch.rows.value, np.array([1.0]))
