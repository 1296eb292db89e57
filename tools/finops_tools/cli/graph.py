"""`finops graph apply GRAPH`: validate a graph file and publish what changed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from finops.adapters.graphlog import publish_delta, read_graph
from finops.adapters.kafka_admin import ensure_topics
from finops.contracts.settings import KafkaSettings
from finops.domain.dag import GraphSpec, build_graph
from finops.domain.graphdiff import GraphDelta, diff_graphs
from finops.domain.rules import check_graph_rules
from finops.formats.graphfile import load_graph
from finops_tools.cli.stack_address import kafka_settings, reach

__all__ = ["load_valid_graph", "register"]

graph_app = typer.Typer(help="The cost graph on the running stack.")


def load_valid_graph(path: Path) -> GraphSpec:
    """Read a graph file and check it as `finops allocate` does (GraphError if bad)."""
    spec = load_graph(path)
    check_graph_rules(build_graph(spec))
    return spec


@graph_app.command(
    help="Validate GRAPH and publish its differences to the graph topic."
)
def apply(
    graph: Annotated[Path, typer.Argument(help="Graph file (YAML or JSON).")],
) -> None:
    spec = load_valid_graph(graph)
    kafka = kafka_settings()
    version, delta = reach("Kafka", kafka.bootstrap_servers, _apply(kafka, spec))
    print(_describe(version, delta))


async def _apply(kafka: KafkaSettings, spec: GraphSpec) -> tuple[int, GraphDelta]:
    await ensure_topics(
        kafka.bootstrap_servers,
        namespace=kafka.topic_namespace,
        security=kafka.client_options(),
    )
    log = await read_graph(kafka)
    delta = diff_graphs(log.spec, spec)
    if delta.is_empty:
        return log.version, delta
    change = await publish_delta(kafka, log, delta, spec)
    return change.version, delta


def _describe(version: int, delta: GraphDelta) -> str:
    if delta.is_empty:
        return f"graph unchanged at version {version}"
    print(f"published graph version {version}", file=sys.stderr)
    return (
        f"graph version {version}: {len(delta.nodes_upserted)} nodes upserted, "
        f"{len(delta.nodes_removed)} removed; {len(delta.edges_upserted)} edges "
        f"upserted, {len(delta.edges_removed)} removed"
    )


def register(app: typer.Typer) -> None:
    """Add the `graph` group."""
    app.add_typer(graph_app, name="graph")
