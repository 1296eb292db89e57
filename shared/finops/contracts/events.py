"""Every message on a topic is one of these models; services define no copies."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Final, Literal, NamedTuple
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    model_validator,
)

from finops.domain.dag import EdgeRef, EdgeSpec, NodeSpec
from finops.domain.identifier_type import Identifier
from finops.domain.records import CostRecord, NodeCost, UsageRecord

__all__ = [
    "EVENT_ADAPTER",
    "AllocationComputed",
    "BudgetAlertChanged",
    "CostLinesNormalized",
    "DateScope",
    "DayInputsRouted",
    "EdgeRef",
    "Event",
    "EventBase",
    "FlowResult",
    "GraphChanged",
    "MessageRejected",
    "NodeCostsReported",
    "NodeResult",
    "RowRejected",
    "UsageReported",
]


_MS: Final = timedelta(milliseconds=1)


class EventBase(BaseModel):
    """Fields every event has; `event_id` makes handling idempotent."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    event_id: UUID
    occurred_at: AwareDatetime


class GraphChanged(EventBase):
    """The cost graph changed; carries only the differences to the previous version."""

    type: Literal["graph_changed"] = "graph_changed"
    schema_version: Literal[1] = 1
    graph_id: str = "default"
    version: int
    digest: str = Field(description="Hash of the whole graph after this change.")
    nodes_upserted: list[NodeSpec] = Field(default_factory=list)
    nodes_removed: list[Identifier] = Field(default_factory=list)
    edges_upserted: list[EdgeSpec] = Field(default_factory=list)
    edges_removed: list[EdgeRef] = Field(default_factory=list)


class DateScope(BaseModel):
    """Days [first, last] for which a source's new figures replace all its old ones."""

    model_config = ConfigDict(frozen=True)
    first: date
    last: date


class NodeCostsReported(EventBase):
    """Direct costs of nodes per day and dimension, as one source states them."""

    type: Literal["node_costs_reported"] = "node_costs_reported"
    schema_version: Literal[1] = 1
    source: Identifier
    ingest_id: UUID | None = None
    replaces: DateScope | None = None
    costs: list[NodeCost]


class UsageReported(EventBase):
    """Usage figures of nodes per day and metric."""

    type: Literal["usage_reported"] = "usage_reported"
    schema_version: Literal[1] = 1
    source: Identifier
    replaces: DateScope | None = None
    usage: list[UsageRecord]


class CostLinesNormalized(EventBase):
    """A batch of normalised FOCUS lines from one source and billing period."""

    type: Literal["cost_lines_normalized"] = "cost_lines_normalized"
    schema_version: Literal[1] = 1
    source: Identifier
    ingest_id: UUID
    billing_period_start: AwareDatetime
    lines: list[CostRecord]


class RowRejected(EventBase):
    """A dead letter: a row or message that was refused, and why."""

    type: Literal["row_rejected"] = "row_rejected"
    schema_version: Literal[1] = 1
    source: str = Field(description="File name or topic the row came from.")
    line: int | None = Field(
        default=None, description="Line in the file; the header is 1."
    )
    reason: str
    raw: str | None = None
    ingest_id: UUID | None = None


class NodeResult(NamedTuple):
    """One node's allocated cost on a day in a dimension, in micro-units.

    On the wire a JSON array in this field order (a busy date announces tens of
    thousands of rows a second: arrays cost a fifth of objects to build and send).
    """

    node: str
    direct: int
    indirect: int
    holistic: int
    allocated_out: int
    retained: int


class FlowResult(BaseModel):
    """Cost that flowed along one edge on a day in a dimension."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)
    from_: str = Field(alias="from")
    to: str
    amount: int
    strategy: str
    share: float


class AllocationComputed(EventBase):
    """The allocation of one day and dimension was (re)computed.

    Version 2: `nodes` rows are arrays (see NodeResult); version 1 had objects.
    """

    type: Literal["allocation_computed"] = "allocation_computed"
    schema_version: Literal[2] = 2
    charge_date: date
    dimension: str
    graph_version: int
    run_id: UUID
    input_offsets: dict[str, int] = Field(default_factory=dict)
    nodes: list[NodeResult]
    flows: list[FlowResult] = Field(default_factory=list)


class DayInputsRouted(EventBase):
    """The allocator's own re-keyed input: what one event says about one charge date.

    A usage row a weighted_average rule reads is copied to every date whose window it
    falls in; any other row comes on its own date only (decision 0340).
    """

    type: Literal["day_inputs_routed"] = "day_inputs_routed"
    schema_version: Literal[1] = 1
    charge_date: date
    source: Identifier
    origin: str = Field(description="topic/partition/offset of the event routed here.")
    ingested_at: AwareDatetime = Field(description="When the routed event occurred.")
    events: int = Field(
        default=1,
        ge=1,
        description="Source events merged here (ingested_at: earliest).",
    )
    ingested_after_ms: list[Annotated[int, Field(ge=0)]] = Field(
        default_factory=list,
        description=(
            "Per merged event, milliseconds after ingested_at that it occurred "
            "(empty: every event at ingested_at); for end-to-end latency figures."
        ),
    )
    costs_replace: bool = Field(
        default=False, description="The source's costs on charge_date are replaced."
    )
    usage_replaces: DateScope | None = Field(
        default=None, description="Days whose usage from the source is replaced."
    )
    costs: list[NodeCost] = Field(default_factory=list)
    usage: list[UsageRecord] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_time_per_event(self) -> DayInputsRouted:
        spread = len(self.ingested_after_ms)
        if spread and spread != self.events:
            raise ValueError(
                f"ingested_after_ms has {spread} entries for {self.events} events"
            )
        return self

    def ingest_times(self) -> dict[datetime, int]:
        """When the merged events occurred, and how many at each time."""
        if not self.ingested_after_ms:
            return {self.ingested_at: self.events}
        first, counts = self.ingested_at, Counter(self.ingested_after_ms)
        return {first + _MS * ms: n for ms, n in counts.items()}


class BudgetAlertChanged(EventBase):
    """A budget's threshold was crossed (`alert`) or spend fell back under it
    (`resolved`); one alert id per crossing, the same on its resolution."""

    type: Literal["budget_alert_changed"] = "budget_alert_changed"
    schema_version: Literal[1] = 1
    alert_id: UUID
    status: Literal["alert", "resolved"]
    budget_id: str
    budget_name: str
    scope: dict[str, Any] = Field(description="The budget's scope as applied.")
    threshold_percent: Decimal
    basis: Literal["actual", "forecast"]
    period_start: date
    period_end: date = Field(description="Exclusive.")
    spent_micros: int
    forecast_micros: int
    budget_micros: int
    currency: str = "USD"
    as_of: date = Field(description="The latest charge date the spend includes.")
    causes: list[str] = Field(
        default_factory=list, description="topic/partition/offset of the events."
    )


class MessageRejected(EventBase):
    """A dead letter: a consumed message that could not be used, where it was and why.

    Sent to the consumed topic's `.dlq` topic; the consumer goes on with the next one.
    """

    type: Literal["message_rejected"] = "message_rejected"
    schema_version: Literal[1] = 1
    topic: str = Field(description="The topic the message was read from.")
    partition: int
    offset: int
    consumer: str = Field(description="The consumer group or service that refused it.")
    reason: str
    key: str | None = Field(default=None, description="The message key, as text.")
    raw: str | None = Field(
        default=None, description="The start of the value (2,000 characters at most)."
    )


Event = Annotated[
    GraphChanged
    | NodeCostsReported
    | UsageReported
    | CostLinesNormalized
    | RowRejected
    | AllocationComputed
    | DayInputsRouted
    | BudgetAlertChanged
    | MessageRejected,
    Field(discriminator="type"),
]
EVENT_ADAPTER: Final[TypeAdapter[Event]] = TypeAdapter(
    Event
)  # built once; used by codec.py
