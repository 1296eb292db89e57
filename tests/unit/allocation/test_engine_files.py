"""load_engine reads the CSV files beside the graph; errors come as if one by one."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from finops.domain.allocation.engine import AllocationEngine
from finops.errors import GraphError, InputError
from finops.formats import engine_files
from finops.formats.costs_ahead import CostsAhead, CostShape, read_costs_ahead

Loader = Callable[..., AllocationEngine]


def _read_ahead(
    graph: Path, costs: Path, *rest: Any, **options: Any
) -> AllocationEngine:
    """load_engine as `finops allocate` calls it: the cost file already being read."""
    return engine_files.load_engine(
        graph, costs, *rest, costs_ahead=read_costs_ahead(costs), **options
    )


@pytest.fixture(params=["in turn", "read ahead"])
def load_engine(request: pytest.FixtureRequest) -> Loader:
    """Every test below runs with the cost file read by load_engine and read ahead
    (plans then built from its shape while its sums are made)."""
    return engine_files.load_engine if request.param == "in turn" else _read_ahead


GRAPH = (
    '{"nodes": [{"id": "vm", "type": "resource"}, {"id": "shop", "type": "product"}],'
    ' "edges": [{"from": "vm", "to": "shop", "strategy": "equal"}]}'
)
COSTS = "node,date,dimension,amount\nvm,2025-03-01,compute,10\n"
USAGE = "node,date,metric,value\nshop,2025-03-01,req,1\n"


def _files(tmp_path: Path, graph: str, costs: str, usage: str) -> list[Path]:
    paths = [tmp_path / "g.json", tmp_path / "c.csv", tmp_path / "u.csv"]
    for path, text in zip(paths, (graph, costs, usage), strict=True):
        path.write_text(text)
    return paths


def test_good_files_allocate(tmp_path: Path, load_engine: Loader) -> None:
    engine = load_engine(*_files(tmp_path, GRAPH, COSTS, USAGE))
    assert int(engine.state.received.sum()) == 10_000_000


def test_the_graph_error_comes_first(tmp_path: Path, load_engine: Loader) -> None:
    graph, costs, usage = _files(tmp_path, "{", "nonsense", USAGE)
    with pytest.raises(GraphError, match=r"g\.json:1: invalid JSON"):
        load_engine(graph, costs, usage)
    with pytest.raises(GraphError, match=r"g\.json:1: invalid JSON"):
        load_engine(graph, tmp_path / "missing.csv", usage)


def test_an_unknown_node_is_named_at_its_line_before_later_defects(
    tmp_path: Path, load_engine: Loader
) -> None:
    costs = COSTS + "ghost,2025-03-01,compute,1\nvm,2025-03-01,compute,abc\n"
    with pytest.raises(InputError, match=r"c\.csv:3: field 'node': unknown node"):
        load_engine(*_files(tmp_path, GRAPH, costs, USAGE))


def test_cost_errors_come_before_usage_errors(
    tmp_path: Path, load_engine: Loader
) -> None:
    costs = COSTS + "vm,2025-03-01,compute,abc\n"
    usage = USAGE + "ghost,2025-03-01,req,1\n"
    with pytest.raises(InputError, match=r"c\.csv:3"):
        load_engine(*_files(tmp_path, GRAPH, costs, usage))
    with pytest.raises(InputError, match=r"u\.csv:3: .*unknown node 'ghost'"):
        load_engine(*_files(tmp_path, GRAPH, COSTS, usage))


def test_the_direct_arrays_error_comes_before_the_plans_with_an_executor() -> None:
    """Built beside the plans on an executor, the direct array still names its defect
    first (an unknown dimension) when the plans fail too (an unknown strategy)."""
    from concurrent.futures import ThreadPoolExecutor

    from finops.domain.allocation.engine import AllocationEngine
    from finops.domain.records import NodeCost
    from tests.support.allocation_builders import DAY, edge, make_spec, node

    spec = make_spec([node("vm", "resource"), node("shop")], [edge("vm", "shop", "x")])
    costs = [NodeCost(node="vm", date=DAY, dimension="gpu", amount_micros=1)]
    for executor in (None, ThreadPoolExecutor(max_workers=1)):
        with pytest.raises(InputError, match="unknown dimension 'gpu'"):
            AllocationEngine.from_records(
                spec, costs, dimensions=["compute"], executor=executor
            )
    with pytest.raises(GraphError, match="unknown strategy 'x'"):
        AllocationEngine.from_records(
            spec,
            [NodeCost(node="vm", date=DAY, dimension="compute", amount_micros=1)],
            executor=ThreadPoolExecutor(max_workers=1),
        )


COSTS_3 = "node,date,dimension,amount\n" + "".join(
    f"vm,2025-03-0{d},{k},{d}.5\n" for d in (2, 4, 3) for k in ("storage", "compute")
)
USAGE_3 = "node,date,metric,value\nshop,2025-03-02,req,1\nlab,2025-03-02,req,3\n"
GRAPH_3 = (
    '{"nodes": [{"id": "vm", "type": "resource"}, {"id": "shop", "type": "product"},'
    ' {"id": "lab", "type": "product"}], "edges": ['
    '{"from": "vm", "to": "shop", "strategy": "proportional", "params": {"metric":'
    ' "req"}}, {"from": "vm", "to": "lab", "strategy": "proportional", "params":'
    ' {"metric": "req"}}]}'
)


@pytest.mark.parametrize(
    ("first", "last"),
    [(None, None), (date(2025, 3, 3), None), (None, date(2025, 3, 9))],
)
def test_an_engine_built_from_the_shape_equals_one_built_from_the_table(
    tmp_path: Path, first: date | None, last: date | None
) -> None:
    files = _files(tmp_path, GRAPH_3, COSTS_3, USAGE_3)
    plain = engine_files.load_engine(*files, first=first, last=last)
    ahead = _read_ahead(*files, first=first, last=last)
    assert (ahead.days, ahead.dimensions) == (plain.days, plain.dimensions)
    assert ahead.dimensions == ["compute", "storage"]
    assert np.array_equal(ahead.state.received, plain.state.received)
    assert np.array_equal(ahead.state.direct, plain.state.direct)


@pytest.mark.parametrize(
    "shape",
    [
        CostShape(date(2025, 3, 2), date(2025, 3, 4), ("compute",)),
        CostShape(date(2025, 3, 1), date(2025, 3, 4), ("compute", "storage")),
        CostShape(date(2025, 3, 5), date(2025, 3, 4), ("compute", "storage")),
    ],
)
def test_a_shape_the_table_contradicts_is_not_used(
    tmp_path: Path, shape: CostShape
) -> None:
    """The engine is built from the summed table when its days or dimensions are
    not the shape's (never seen: the shape is taken from the same blocks)."""
    files = _files(tmp_path, GRAPH_3, COSTS_3, USAGE_3)
    plain = engine_files.load_engine(*files)
    ahead = read_costs_ahead(files[1])
    wrong: Future[CostShape | None] = Future()
    wrong.set_result(shape)
    engine = engine_files.load_engine(
        *files, costs_ahead=CostsAhead(wrong, ahead.table)
    )
    assert (engine.days, engine.dimensions) == (plain.days, plain.dimensions)
    assert np.array_equal(engine.state.received, plain.state.received)


def test_the_usage_error_comes_after_the_cost_error_with_a_shape(
    tmp_path: Path,
) -> None:
    costs = COSTS_3 + "ghost,2025-03-02,compute,1\n"
    usage = USAGE_3 + "shop,2025-03-02,req,-1\n"
    with pytest.raises(InputError, match=r"c\.csv:8: field 'node'"):
        _read_ahead(*_files(tmp_path, GRAPH_3, costs, usage))
    with pytest.raises(InputError, match=r"u\.csv:4"):
        _read_ahead(*_files(tmp_path, GRAPH_3, COSTS_3, usage))


def test_a_cost_error_comes_before_a_rule_error_with_a_shape(tmp_path: Path) -> None:
    """The plans are built before the sums are made; their error waits for the
    cost file's."""
    graph = GRAPH_3.replace('"proportional"', '"no_such"', 1)
    costs = COSTS_3 + "vm,2025-03-02,compute,1e999999\n"
    with pytest.raises(InputError, match=r"c\.csv:8"):
        _read_ahead(*_files(tmp_path, graph, costs, USAGE_3))
    with pytest.raises(GraphError, match="unknown strategy 'no_such'"):
        _read_ahead(*_files(tmp_path, graph, COSTS_3, USAGE_3))
