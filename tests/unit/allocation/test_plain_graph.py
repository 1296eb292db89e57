"""The plain JSON graph reader (`formats.plaingraph`) against pydantic's models: it
reads a file only when pydantic reads it to the same fields, and `finops allocate`
reads a plain file without importing pydantic (decision 0360)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops.domain.costgraph import CostGraph, GraphFields, build_graph
from finops.domain.dag import GraphSpec
from finops.errors import GraphError
from finops.formats.engine_files import read_graph
from finops.formats.graphfile import load_graph, parse_graph
from finops.formats.plaingraph import PlainGraph, plain_graph, read_plain_graph

IDS = ["a", "b", "c", "d"]
ODD_IDS: list[object] = ["", "x\x01", "é", 3, None, ["a"]]
TYPES = ["resource", "shared", "platform", "product"]
ODD_TYPES: list[object] = ["Product", "team", 1, None]
DAYS = ["2025-03-01", "2025-03-10", "2025-04-01", None]
ODD_DAYS: list[object] = [
    "2025-02-30",
    "20250310",
    "2025-3-1",
    "2025-03-10T00:00:00",
    "2025-03-10T01:00:00",
    1_741_564_800,
    "\u0661\u0662\u0663\u0664-\u0660\u0661-\u0660\u0661",  # Arabic-Indic digits
    "0000-01-01",
]
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
PARAMS = st.dictionaries(st.sampled_from(["percent", "metric", "cap"]), JSON_VALUES)


def _fields(spec: GraphFields) -> str:
    """Every field, typed (repr tells 1 from 1.0 and True), in order."""
    nodes = [(n.id, n.type, dict(n.labels)) for n in spec.nodes]
    edges = [
        (
            e.from_,
            e.to,
            e.strategy,
            dict(e.params),
            {k: (o.strategy, dict(o.params)) for k, o in e.dimensions.items()},
            e.active_from,
            e.active_to,
        )
        for e in spec.edges
    ]
    return repr((nodes, edges))


def _mostly(usual: list[Any], odd: list[Any], with_odd: bool) -> st.SearchStrategy[Any]:
    """A usual value, or now and then (with_odd) an odd one."""
    if not with_odd:
        return st.sampled_from(usual)
    return st.sampled_from(usual * 15 + odd)


@st.composite
def nodes(draw: st.DrawFn, odd: bool) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": draw(_mostly(IDS, ODD_IDS, odd)),
        "type": draw(_mostly(TYPES, ODD_TYPES, odd)),
    }
    if draw(st.booleans()):
        labels: dict[str, object] = draw(
            st.dictionaries(st.text(max_size=3), st.text(max_size=3))
        )
        if odd and labels and draw(st.integers(0, 5)) == 0:
            labels[next(iter(labels))] = 1
        node["labels"] = labels
    if odd and draw(st.integers(0, 29)) == 0:
        node["owner"] = "team"
    return node


@st.composite
def edges(draw: st.DrawFn, odd: bool) -> dict[str, Any]:
    edge: dict[str, Any] = {
        "from": draw(_mostly(IDS, ["z", *ODD_IDS], odd)),
        "to": draw(_mostly(IDS, ["z", *ODD_IDS], odd)),
        "strategy": draw(
            _mostly(["equal", "fixed_percent"], [None, 1, ["equal"]], odd)
        ),
    }
    if odd and draw(st.integers(0, 19)) == 0:
        edge["from_"] = edge.pop("from")
    if draw(st.booleans()):
        odd_params = odd and draw(st.integers(0, 9)) == 0
        edge["params"] = [1] if odd_params else draw(PARAMS)
    if draw(st.booleans()):
        override: dict[str, Any] = {"strategy": "equal"}
        if draw(st.booleans()):
            override["params"] = draw(PARAMS)
        if odd and draw(st.integers(0, 9)) == 0:
            override = draw(st.sampled_from([{"params": {}}, {"strategy": 1}, {}]))
        edge["dimensions"] = {"storage": override}
    for key in ("active_from", "active_to"):
        if draw(st.booleans()):
            edge[key] = draw(_mostly(DAYS, ODD_DAYS, odd))
    if odd and draw(st.integers(0, 29)) == 0:
        edge["weight"] = 1
    return edge


@st.composite
def graphs(draw: st.DrawFn, odd: bool) -> dict[str, Any]:
    graph: dict[str, Any] = {}
    if not odd:  # every edge's ends are node ids, each id once
        listed = [{**draw(nodes(odd)), "id": i} for i in draw(st.permutations(IDS))]
        graph["nodes"] = listed
    elif draw(st.integers(0, 9)):
        listed = [{**draw(nodes(odd)), "id": i} for i in draw(st.permutations(IDS))]
        graph["nodes"] = draw(st.sampled_from([listed, listed[1:]]))
        if draw(st.integers(0, 5)) == 0:
            graph["nodes"] = [*listed, draw(nodes(odd))]
    if not odd or draw(st.integers(0, 9)):
        graph["edges"] = draw(st.lists(edges(odd), max_size=6))
    if odd and draw(st.integers(0, 19)) == 0:
        graph["version"] = 2
    return graph


def _pydantic(text: str) -> GraphSpec | None:
    try:
        return parse_graph(text, name="g.json", yaml_text=False)
    except GraphError:
        return None


@settings(max_examples=400, deadline=None)
@given(graphs(odd=True))
def test_a_graph_read_plainly_is_the_one_pydantic_reads(raw: dict[str, Any]) -> None:
    text = json.dumps(raw, ensure_ascii=bool(len(str(raw)) % 2))
    plain = plain_graph(text)
    if plain is not None:
        spec = _pydantic(text)
        assert spec is not None, "read plainly, but pydantic refuses it"
        assert _fields(plain) == _fields(spec)


@settings(max_examples=200, deadline=None)
@given(graphs(odd=False))
def test_graphs_in_the_plain_form_are_read_plainly(raw: dict[str, Any]) -> None:
    for edge in raw.get("edges", []):
        start, end = edge.get("active_from"), edge.get("active_to")
        if start and end and end <= start:
            edge.pop("active_to")  # a window that ends first is an error
    text = json.dumps(raw)
    plain = plain_graph(text)
    spec = _pydantic(text)
    assert plain is not None and spec is not None
    assert _fields(plain) == _fields(spec)


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        "{",
        '{"nodes": [], "edges": [], "extra": 1}',
        '{"nodes": [{"id": "a", "type": "resource"}], "edges": NaN}',
        '\ufeff{"nodes": []}',
    ],
)
def test_other_text_is_left_to_pydantic(text: str) -> None:
    assert plain_graph(text) is None


def test_read_graph_names_a_defect_as_the_graph_reader_does(tmp_path: Path) -> None:
    path = tmp_path / "g.json"
    path.write_text('{"nodes": [{"id": "a", "type": "team"}]}')
    with pytest.raises(GraphError) as plain_way:
        read_graph(path)
    with pytest.raises(GraphError) as model_way:
        load_graph(path)
    assert str(plain_way.value) == str(model_way.value)
    assert "nodes.0.type" in str(plain_way.value)


def test_yaml_and_unreadable_files_go_to_the_graph_reader(tmp_path: Path) -> None:
    yaml_file = tmp_path / "g.yaml"
    yaml_file.write_text("nodes:\n  - {id: a, type: resource}\n")
    assert read_plain_graph(yaml_file) is None
    assert isinstance(read_graph(yaml_file), GraphSpec)
    missing = tmp_path / "missing.json"
    assert read_plain_graph(missing) is None
    with pytest.raises(GraphError, match=r"missing\.json: cannot read graph file"):
        read_graph(missing)


def test_a_synthetic_organisation_builds_the_same_graph_either_way(
    tmp_path: Path,
) -> None:
    org = _synth(tmp_path)
    plain = read_graph(org / "graph.json")
    assert isinstance(plain, PlainGraph)
    spec = load_graph(org / "graph.json")
    assert _fields(plain) == _fields(spec)
    one, other = build_graph(plain), build_graph(spec)
    assert one.order == other.order and one.ids == other.ids
    assert _out(one) == _out(other)


def test_allocate_on_a_plain_graph_file_imports_no_pydantic(tmp_path: Path) -> None:
    """Nor `pyarrow.compute`: the readers call Arrow's kernels by name."""
    org = _synth(tmp_path)
    files = ["--graph", "graph.json", "--costs", "costs.csv", "--usage", "usage.csv"]
    command = [sys.executable, "-X", "importtime", "-m", "finops_tools.cli"]
    done = subprocess.run(
        [*command, "allocate", *files, "--summary-only"],
        cwd=org,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["coverage"] > 0
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    assert "finops.domain.allocation.engine" in imported
    assert not [m for m in imported if m.startswith("pydantic")]
    assert "pyarrow._compute" in imported
    assert "pyarrow.compute" not in imported


def _out(graph: CostGraph) -> dict[str, list[tuple[str, date | None]]]:
    return {
        p: [(e.to, e.active_from) for e in out] for p, out in graph.out_edges.items()
    }


def _synth(tmp_path: Path) -> Path:
    org = tmp_path / "org"
    sizes = ["--nodes", "60", "--edges", "200", "--days", "3", "--seed", "7"]
    subprocess.run(
        [sys.executable, "-m", "finops_tools.cli", "synth", *sizes, "--out", str(org)],
        check=True,
        capture_output=True,
    )
    return org
