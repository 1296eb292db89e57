"""Cost graph specs: the pydantic models of nodes, edges and graphs (graph files,
events, the API). The indexed graph the engine reads (`CostGraph`, `build_graph`:
structure checks, topological order, cycles) is in `costgraph`, re-exported here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from finops.domain.costgraph import (
    CostGraph,
    EdgeFields,
    NodeType,
    build_graph,
    is_active,
    overlap,
)
from finops.domain.identifier_type import Identifier

__all__ = [
    "CostGraph",
    "DimensionOverride",
    "EdgeRef",
    "EdgeSpec",
    "GraphSpec",
    "NodeSpec",
    "NodeType",
    "build_graph",
]


class NodeSpec(BaseModel):
    """One node of the cost graph."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: Identifier = Field(min_length=1)
    type: NodeType
    labels: dict[str, str] = Field(default_factory=dict)


class DimensionOverride(BaseModel):
    """Strategy and parameters of an edge for one cost dimension."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    strategy: str
    params: dict[str, Any] = Field(default_factory=dict)


class EdgeSpec(BaseModel):
    """Cost flows from `from` to `to`, active on [active_from, active_to)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    from_: Identifier = Field(alias="from", min_length=1)
    to: Identifier = Field(min_length=1)
    strategy: str
    params: dict[str, Any] = Field(default_factory=dict)
    dimensions: dict[str, DimensionOverride] = Field(default_factory=dict)
    active_from: date | None = None
    active_to: date | None = None

    @field_validator("active_to")
    @classmethod
    def _check_window(cls, active_to: date | None, info: ValidationInfo) -> date | None:
        """Only edges that give active_to are checked (a model validator would run
        on each of 20,000 edges, ~0.02 s for a graph file, to find nothing)."""
        start = info.data.get("active_from")
        if start and active_to and active_to <= start:
            edge = f"edge {info.data.get('from_')} -> {info.data.get('to')}"
            raise ValueError(f"{edge}: active_to must be after active_from")
        return active_to

    def is_active(self, day: date) -> bool:
        """Whether the edge carries cost on this day."""
        return is_active(self, day)

    def overlaps(self, other: EdgeFields) -> bool:
        """Whether the two activity windows share at least one day."""
        return overlap(self, other)


class EdgeRef(BaseModel):
    """Identifies an edge: parent, child and the start of its activity window."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)
    from_: Identifier = Field(alias="from")
    to: Identifier
    active_from: date | None = None


class GraphSpec(BaseModel):
    """Nodes and edges as written in a graph file or carried by an event."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    nodes: list[NodeSpec] = Field(default_factory=list)
    edges: list[EdgeSpec] = Field(default_factory=list)

    def with_edges(self, edges: Sequence[EdgeFields]) -> GraphSpec:
        """The same nodes with these edges (this spec's and new `EdgeSpec`s)."""
        return self.model_copy(update={"edges": list(edges)})
