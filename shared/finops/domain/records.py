"""Records that flow between services: normalised bill lines, node costs, usage."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from finops.domain.identifier_type import Identifier
from finops.domain.money import MAX_AMOUNT_MICROS
from finops.domain.periods import ChargeDate

__all__ = ["CostRecord", "NodeCost", "UsageRecord"]


class CostRecord(BaseModel):
    """One normalised FOCUS bill line; field names are FOCUS names in snake_case."""

    model_config = ConfigDict(frozen=True)
    source: Identifier = Field(
        description="Where the line came from: file name or producer."
    )
    line: int = Field(description="Line number in the source (the header is line 1).")
    provider: str
    billing_account_id: str
    sub_account_id: str | None = None
    billing_period_start: AwareDatetime
    charge_period_start: AwareDatetime
    charge_period_end: AwareDatetime
    charge_category: str | None = None
    service_category: str | None = None
    service_name: str | None = None
    resource_id: str | None = None
    region_id: str | None = None
    billing_currency: str = "USD"
    billed_cost: Decimal
    effective_cost: Decimal | None = None
    list_cost: Decimal | None = None
    contracted_cost: Decimal | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    resource_name: str | None = None
    resource_type: str | None = None
    node: Identifier | None = Field(
        default=None, description="Node chosen by the rules."
    )
    dimension: Identifier | None = Field(default=None, description="Cost dimension.")


class NodeCost(BaseModel):
    """Direct cost of one graph node on one UTC day in one dimension (micro-units)."""

    model_config = ConfigDict(frozen=True)
    node: Identifier
    date: ChargeDate
    dimension: Identifier
    # Within the supported range (finops.domain.money): an event from an outside
    # producer carrying more does not decode, so it never reaches a sum.
    amount_micros: int = Field(ge=-MAX_AMOUNT_MICROS, le=MAX_AMOUNT_MICROS)


class UsageRecord(BaseModel):
    """One usage figure of a node on a day; labels select segments."""

    model_config = ConfigDict(frozen=True)
    node: Identifier
    date: ChargeDate
    metric: Identifier
    value: float
    labels: dict[str, Any] = Field(default_factory=dict)
