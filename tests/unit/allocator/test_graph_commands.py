"""Graph differences; `finops graph apply` refusing bad graphs (no broker needed)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from finops.contracts.events import GraphChanged
from finops.domain.dag import EdgeSpec, GraphSpec, NodeSpec, NodeType
from finops.domain.graphdiff import apply_change, diff_graphs, graph_digest

NODES = [NodeSpec(id=i, type=NodeType.SHARED) for i in ("a", "b", "c")]


def _edge(to: str, **extra: object) -> EdgeSpec:
    return EdgeSpec.model_validate(
        {"from": "a", "to": to, "strategy": "equal", **extra}
    )


def test_diff_then_apply_rebuilds_the_new_graph() -> None:
    old = GraphSpec(nodes=NODES, edges=[_edge("b"), _edge("c")])
    new = GraphSpec(
        nodes=[*NODES[:2], NodeSpec(id="d", type=NodeType.PRODUCT)],
        edges=[_edge("b", active_to=date(2025, 2, 1)), _edge("d")],
    )
    delta = diff_graphs(old, new)
    assert [n.id for n in delta.nodes_upserted] == ["d"]
    assert delta.nodes_removed == ["c"]
    assert len(delta.edges_upserted) == 2 and len(delta.edges_removed) == 1
    change = GraphChanged(
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        version=2,
        digest="x",
        nodes_upserted=delta.nodes_upserted,
        nodes_removed=delta.nodes_removed,
        edges_upserted=delta.edges_upserted,
        edges_removed=delta.edges_removed,
    )
    assert graph_digest(apply_change(old, change)) == graph_digest(new)


def test_an_unchanged_graph_has_an_empty_diff() -> None:
    spec = GraphSpec(nodes=NODES, edges=[_edge("b")])
    reordered = GraphSpec(nodes=list(reversed(NODES)), edges=[_edge("b")])
    assert diff_graphs(spec, reordered).is_empty


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "finops_tools.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "PATH": ""},
    )


def test_graph_apply_refuses_a_cycle_like_allocate(tmp_path: Path) -> None:
    graph = tmp_path / "g.json"
    graph.write_text(
        json.dumps(
            {
                "nodes": [{"id": "a", "type": "shared"}, {"id": "b", "type": "shared"}],
                "edges": [
                    {"from": "a", "to": "b", "strategy": "equal"},
                    {"from": "b", "to": "a", "strategy": "equal"},
                ],
            }
        )
    )
    costs = tmp_path / "c.csv"
    costs.write_text("node,date,dimension,amount\na,2025-01-01,compute,1\n")
    applied = _run("graph", "apply", str(graph))
    allocated = _run(
        "allocate", "--graph", str(graph), "--costs", str(costs), "--summary-only"
    )
    assert applied.returncode == allocated.returncode == 2
    assert applied.stderr == allocated.stderr
    assert "cycle in cost graph" in applied.stderr


def test_graph_apply_refuses_a_bad_strategy(tmp_path: Path) -> None:
    graph = tmp_path / "g.yaml"
    graph.write_text(
        "nodes: [{id: a, type: shared}, {id: b, type: product}]\n"
        "edges: [{from: a, to: b, strategy: teleport}]\n"
    )
    applied = _run("graph", "apply", str(graph))
    assert applied.returncode == 2 and applied.stderr.count("\n") == 1
    assert "teleport" in applied.stderr
