"""`finops graph apply GRAPH`: validate a graph file and publish what changed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from finops.adapters.graphlog import apply_graph, check_graph, describe_delta
from finops.domain.dag import GraphSpec
from finops.domain.graphdiff import GraphDelta
from finops.formats.graphfile import load_graph
from finops_tools.cli.stack_address import kafka_settings, reach

__all__ = ["load_valid_graph", "register"]

graph_app = typer.Typer(help="The cost graph on the running stack.")


def load_valid_graph(path: Path) -> GraphSpec:
    """Read a graph file and check it as `finops allocate` does (GraphError if bad)."""
    return check_graph(load_graph(path))


@graph_app.command(
    help="Validate GRAPH and publish its differences to the graph topic."
)
def apply(
    graph: Annotated[Path, typer.Argument(help="Graph file (YAML or JSON).")],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Validate and show the differences only."),
    ] = False,
) -> None:
    spec = load_valid_graph(graph)
    kafka = kafka_settings()
    work = apply_graph(kafka, spec, dry_run=dry_run)
    version, delta = reach("Kafka", kafka.bootstrap_servers, work)
    print(_describe(version, delta, dry_run))


def _describe(version: int, delta: GraphDelta, dry_run: bool) -> str:
    if delta.is_empty:
        return f"graph unchanged at version {version}"
    counts = describe_delta(delta)
    changes = (
        f"{counts['nodes_upserted']} nodes upserted, {counts['nodes_removed']} "
        f"removed; {counts['edges_upserted']} edges upserted, "
        f"{counts['edges_removed']} removed"
    )
    if dry_run:
        return f"dry run against graph version {version}: {changes}"
    print(f"published graph version {version}", file=sys.stderr)
    return f"graph version {version}: {changes}"


def register(app: typer.Typer) -> None:
    """Add the `graph` group."""
    app.add_typer(graph_app, name="graph")
