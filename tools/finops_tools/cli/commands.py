"""Which module registers each top-level `finops` command, and its one-line help."""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = ["COMMANDS", "CommandEntry"]


class CommandEntry(NamedTuple):
    """A top-level command: the module whose `register(app)` adds it; its listing."""

    module: str
    help: str


# In listing order. A module may register several commands (allocation does).
COMMANDS: Final[dict[str, CommandEntry]] = {
    "allocate": CommandEntry("allocation", "Allocate shared costs over the graph."),
    "explain": CommandEntry("allocation", "Explain how a node's cost was built."),
    "synth": CommandEntry(
        "allocation", "Write a synthetic organisation (graph, costs, usage)."
    ),
    "results": CommandEntry(
        "results", "Write the stored allocation results (as `allocate --output`)."
    ),
    "export": CommandEntry(
        "export",
        "Write one of the API's exports (CSV, Parquet, FOCUS) from PostgreSQL.",
    ),
    "ingest": CommandEntry(
        "ingest", "Upload files to the running stack's ingest service."
    ),
    "demo": CommandEntry(
        "demo",
        "Run the whole path on a synthetic organisation (leaves the stack running).",
    ),
    "dev": CommandEntry(
        "dev", "Run a local stack: real Kafka (KRaft), PostgreSQL, the services."
    ),
    "db": CommandEntry("db", "Database schema."),
    "focus": CommandEntry(
        "focus", "FOCUS bills offline: normalise to node costs, summarise spend."
    ),
    "graph": CommandEntry("graph", "The cost graph on the running stack."),
    "tokens": CommandEntry("tokens", "API tokens (bearer tokens with scopes)."),
    "budgets": CommandEntry(
        "governance", "Budgets, webhooks and actions from a YAML file."
    ),
    "alerts": CommandEntry("governance", "Budget alerts fired and resolved."),
    "webhooks": CommandEntry("governance", "Webhook and executor deliveries."),
    "actions": CommandEntry(
        "governance", "Shutdown action runs: approve, reverse, audit."
    ),
    "cloudsim": CommandEntry(
        "cloudsim", "A simulated cloud billing into ingest, with an executor."
    ),
    "usage": CommandEntry("usage", "Usage metrics: pull them from Prometheus."),
    "dashboards": CommandEntry("dashboards", "Grafana dashboards generated from code."),
    "report": CommandEntry(
        "report", "A self-contained HTML cost report (no Grafana needed)."
    ),
}
