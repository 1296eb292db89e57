"""The dashboards' variables: each a query on the Grafana views, or a fixed list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from grafana_foundation_sdk.builders import dashboard as builder
from grafana_foundation_sdk.models.dashboard import (
    VariableOption,
    VariableRefresh,
    VariableSort,
)

from finops_tools.dashboards.panels import ALL, POSTGRES

__all__ = ["FOCUS_FIELDS", "VARIABLES", "Variable", "variable"]


@dataclass(frozen=True)
class Variable:
    """A query variable: its SQL returns one column, `__text`, of choices."""

    name: str
    label: str
    query: str
    multi: bool = True


VARIABLES: Final[dict[str, Variable]] = {
    v.name: v
    for v in (
        Variable(
            "provider",
            "Provider",
            "SELECT DISTINCT provider AS __text FROM grafana_cost_lines ORDER BY 1",
        ),
        Variable(
            "service_category",
            "Service category",
            "SELECT DISTINCT service_category AS __text FROM grafana_cost_lines"
            " ORDER BY 1",
        ),
        Variable(
            "tag_key",
            "Tag key",
            "SELECT DISTINCT tag_key AS __text FROM grafana_cost_line_tags ORDER BY 1",
            multi=False,
        ),
        Variable(
            "tag_value",
            "Tag value",
            "SELECT DISTINCT tag_value AS __text FROM grafana_cost_line_tags"
            " WHERE tag_key = ${tag_key:sqlstring} ORDER BY 1",
        ),
        Variable(
            "dimension",
            "Dimension",
            "SELECT DISTINCT dimension AS __text FROM grafana_node_costs_daily"
            " ORDER BY 1",
        ),
        Variable(
            "product",
            "Product",
            "SELECT node_id AS __text FROM grafana_nodes"
            " WHERE node_type = 'product' AND active ORDER BY 1",
            multi=False,
        ),
        Variable(
            "shared_node",
            "Shared or platform node",
            "SELECT node_id AS __text FROM grafana_nodes"
            " WHERE node_type IN ('shared', 'platform') AND active ORDER BY 1",
        ),
        Variable(
            "budget",
            "Budget",
            "SELECT budget_id AS __text FROM grafana_budgets ORDER BY 1",
        ),
    )
}

# The bill-line fields the cost explorer may group by (FOCUS names in snake_case).
FOCUS_FIELDS: Final = (
    "provider",
    "service_category",
    "service_name",
    "charge_category",
    "sub_account_id",
    "billing_account_id",
    "region_id",
    "resource_type",
    "resource_id",
    "billing_currency",
    "node",
    "dimension",
)


def variable(name: str) -> builder.QueryVariable:
    """The variable as Grafana reads it; multi-value ones offer All."""
    spec = VARIABLES[name]
    made = (
        builder.QueryVariable(spec.name)
        .label(spec.label)
        .datasource(POSTGRES)
        .query(spec.query)
        .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(spec.multi)
    )
    if spec.multi:
        made = made.include_all(True).all_value(ALL)
        made = made.current(VariableOption(selected=True, text="All", value="$__all"))
    return made


def group_by_variable() -> builder.CustomVariable:
    """The explorer's grouping: one FOCUS field (a fixed list, read as a column)."""
    return (
        builder.CustomVariable("group_by")
        .label("Group by")
        .values(", ".join(FOCUS_FIELDS))
        .current(VariableOption(selected=True, text="provider", value="provider"))
    )
