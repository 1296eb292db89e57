"""load_engine reads the CSV files beside the graph; errors come as if one by one."""

from __future__ import annotations

from pathlib import Path

import pytest

from finops.errors import GraphError, InputError
from finops.formats.engine_files import load_engine

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


def test_good_files_allocate(tmp_path: Path) -> None:
    engine = load_engine(*_files(tmp_path, GRAPH, COSTS, USAGE))
    assert int(engine.state.received.sum()) == 10_000_000


def test_the_graph_error_comes_first(tmp_path: Path) -> None:
    graph, costs, usage = _files(tmp_path, "{", "nonsense", USAGE)
    with pytest.raises(GraphError, match=r"g\.json:1: invalid JSON"):
        load_engine(graph, costs, usage)
    with pytest.raises(GraphError, match=r"g\.json:1: invalid JSON"):
        load_engine(graph, tmp_path / "missing.csv", usage)


def test_an_unknown_node_is_named_at_its_line_before_later_defects(
    tmp_path: Path,
) -> None:
    costs = COSTS + "ghost,2025-03-01,compute,1\nvm,2025-03-01,compute,abc\n"
    with pytest.raises(InputError, match=r"c\.csv:3: field 'node': unknown node"):
        load_engine(*_files(tmp_path, GRAPH, costs, USAGE))


def test_cost_errors_come_before_usage_errors(tmp_path: Path) -> None:
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
