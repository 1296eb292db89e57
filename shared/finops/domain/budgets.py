"""Budgets, webhook subscriptions and shutdown actions as a governance file states them.

Pure models and rules: what a valid file is, which period a day falls in, how a budget's
threshold reads. Field names are a contract (docs/governance.md): add, never rename.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import re
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Final, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from finops.domain.identifier_type import Identifier
from finops.domain.money import MAX_AMOUNT_UNITS

__all__ = [
    "FILTER_COLUMNS",
    "Action",
    "Approval",
    "Basis",
    "Budget",
    "Executor",
    "GovernanceFile",
    "PayloadFormat",
    "Period",
    "Scope",
    "Shutdown",
    "Threshold",
    "Webhook",
    "WebhookEvent",
    "period_bounds",
    "secret_bytes",
]

ItemId = Annotated[
    str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
]
_TAG: Final = "Tags."
# FOCUS column (any version's name) -> the stored bill line's column (cost_lines).
FILTER_COLUMNS: Final = {
    "ServiceProviderName": "provider",
    "ProviderName": "provider",
    "BillingAccountId": "billing_account_id",
    "SubAccountId": "sub_account_id",
    "ChargeCategory": "charge_category",
    "ServiceCategory": "service_category",
    "ServiceName": "service_name",
    "ResourceId": "resource_id",
    "ResourceName": "resource_name",
    "ResourceType": "resource_type",
    "RegionId": "region_id",
    "BillingCurrency": "billing_currency",
    "x_node": "node",
    "x_dimension": "dimension",
}


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Period(StrEnum):
    DAY = "day"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class Basis(StrEnum):
    ACTUAL = "actual"  # the spend so far
    FORECAST = "forecast"  # the spend the period is heading for


class Threshold(_Strict):
    """Fire when spend (or its forecast) reaches `percent` of the budget."""

    percent: Decimal = Field(gt=0, le=1000, decimal_places=4)
    basis: Basis = Basis.ACTUAL

    def key(self) -> tuple[Decimal, Basis]:
        return (self.percent.normalize(), self.basis)


def _check_filter(conditions: dict[str, str]) -> dict[str, str]:
    if not conditions:
        raise ValueError("a filter needs at least one condition")
    for name, pattern in conditions.items():
        if not name.startswith(_TAG) and name not in FILTER_COLUMNS:
            known = ", ".join(sorted(FILTER_COLUMNS))
            raise ValueError(
                f"unknown filter field {name!r} (use Tags.<key> or one of: {known})"
            )
        if name.startswith(_TAG) and len(name) == len(_TAG):
            raise ValueError("a tag filter names its key: Tags.<key>")
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"filter {name!r}: the pattern must be non-empty text")
    return conditions


Filter = Annotated[dict[str, str], Field(max_length=20)]


class Scope(_Strict):
    """What a budget watches: a node's allocated cost, matching bill lines, or all."""

    node: Identifier | None = Field(default=None, min_length=1)
    filter: Filter | None = None
    dimension: Identifier | None = Field(
        default=None, description="Only this cost dimension (default: all)."
    )

    @field_validator("filter")
    @classmethod
    def _filter(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else _check_filter(value)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if self.node is not None and self.filter is not None:
            raise ValueError("a scope is a node or a filter, not both")
        return self

    @property
    def kind(self) -> Literal["node", "filter", "organisation"]:
        if self.node is not None:
            return "node"
        return "filter" if self.filter is not None else "organisation"


class Budget(_Strict):
    id: ItemId
    name: str = Field(min_length=1, max_length=200)
    amount: Decimal = Field(gt=0, le=MAX_AMOUNT_UNITS, decimal_places=6)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    period: Period = Period.MONTH
    start: date | None = Field(
        default=None, description="First day of the first period (default: calendar)."
    )
    scope: Scope = Field(default_factory=Scope)
    thresholds: list[Threshold] = Field(
        default_factory=lambda: [Threshold(percent=Decimal(100))], max_length=50
    )
    parent: ItemId | None = None

    @model_validator(mode="after")
    def _distinct_thresholds(self) -> Self:
        if (
            self.start is not None
            and self.period is not Period.DAY
            and self.start.day > 28
        ):
            raise ValueError(
                "start: a monthly, quarterly or yearly period starts on day 1-28"
            )
        keys = [t.key() for t in self.thresholds]
        if len(set(keys)) != len(keys):
            raise ValueError("thresholds: the same percent and basis twice")
        return self

    def has_threshold(self, threshold: Threshold) -> bool:
        return threshold.key() in {t.key() for t in self.thresholds}


class WebhookEvent(StrEnum):
    BUDGET_ALERT = "budget.alert"
    BUDGET_RESOLVED = "budget.resolved"
    ACTION_ANY = "action.*"
    ACTION_PENDING = "action.pending_approval"
    ACTION_EXECUTING = "action.executing"
    ACTION_SUCCEEDED = "action.succeeded"
    ACTION_FAILED = "action.failed"
    ACTION_REVERSED = "action.reversed"


class PayloadFormat(StrEnum):
    NATIVE = "native"
    GCP_BUDGET = "gcp-budget"
    AZURE_BUDGET = "azure-budget"


def secret_bytes(secret: str) -> bytes:
    """The key of a `whsec_<base64>` secret (Standard Webhooks); ValueError if bad."""
    if not secret.startswith("whsec_"):
        raise ValueError("a secret starts with 'whsec_' followed by base64")
    body = secret.removeprefix("whsec_")
    if not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", body):
        raise ValueError("the secret after 'whsec_' must be base64")
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the secret after 'whsec_' must be base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError(
            f"the secret holds {len(key)} bytes; use 24 to 64 (e.g. 32 random bytes)"
        )
    return key


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {url!r}")
    if parts.username or parts.password:
        raise ValueError("a URL must not carry credentials; use the secret")
    return url


class _Target(_Strict):
    url: str = Field(max_length=2000)
    secret: str = Field(repr=False)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        secret_bytes(value)
        return value


class Webhook(_Target):
    id: ItemId
    events: list[WebhookEvent] = Field(
        default_factory=lambda: [WebhookEvent.BUDGET_ALERT], min_length=1
    )
    budgets: list[ItemId] | None = Field(
        default=None, description="Only alerts of these budgets (default: all)."
    )
    format: PayloadFormat = PayloadFormat.NATIVE

    def wants(self, event_type: str, budget_id: str) -> bool:
        names = {e.value for e in self.events}
        matches = event_type in names or (
            event_type.startswith("action.") and "action.*" in names
        )
        return matches and (self.budgets is None or budget_id in self.budgets)


class Shutdown(_Strict):
    """The targets: resource ids, or the resources of bill lines matching a filter."""

    resources: list[str] | None = Field(default=None, min_length=1, max_length=10_000)
    filter: Filter | None = None

    @field_validator("filter")
    @classmethod
    def _filter(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else _check_filter(value)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.resources is None) == (self.filter is None):
            raise ValueError("shutdown names `resources` or a `filter` (one of them)")
        return self


class Executor(_Target):
    timeout_s: float = Field(default=10.0, gt=0, le=300)


class Approval(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class Action(_Strict):
    id: ItemId
    budget: ItemId
    on: Threshold
    shutdown: Shutdown
    executor: Executor
    approval: Approval = Approval.AUTOMATIC
    cooldown_minutes: int = Field(
        default=60, ge=0, le=525_600, description="No new run sooner after one."
    )


class GovernanceFile(_Strict):
    budgets: list[Budget] = Field(default_factory=list)
    webhooks: list[Webhook] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Self:
        for section in ("budgets", "webhooks", "actions"):
            ids = [item.id for item in getattr(self, section)]
            for index, item_id in enumerate(ids):
                if item_id in ids[:index]:
                    raise ValueError(f"{section}.{index}.id: {item_id!r} twice")
        budgets = {b.id: b for b in self.budgets}
        for index, budget in enumerate(self.budgets):
            if budget.parent is not None and budget.parent not in budgets:
                raise ValueError(
                    f"budgets.{index}.parent: unknown budget {budget.parent!r}"
                )
        _no_parent_cycle(budgets)
        for index, action in enumerate(self.actions):
            target = budgets.get(action.budget)
            if target is None:
                raise ValueError(
                    f"actions.{index}.budget: unknown budget {action.budget!r}"
                )
            if not target.has_threshold(action.on):
                raise ValueError(
                    f"actions.{index}.on: budget {action.budget!r} has no threshold "
                    f"{action.on.percent}% {action.on.basis}"
                )
        return self


def _no_parent_cycle(budgets: dict[str, Budget]) -> None:
    for start in budgets:
        seen, current = {start}, budgets[start].parent
        while current is not None:
            if current in seen:
                raise ValueError(f"budget {start!r}: parents form a cycle")
            seen.add(current)
            current = budgets[current].parent


def period_bounds(
    period: Period, day: date, start: date | None = None
) -> tuple[date, date]:
    """The half-open period [first, end) of `day`; `start` shifts the calendar's."""
    anchor = start or date(2000, 1, 1)
    if period is Period.DAY:
        return day, day + timedelta(days=1)
    months = {Period.MONTH: 1, Period.QUARTER: 3, Period.YEAR: 12}[period]
    index = (day.year - anchor.year) * 12 + day.month - anchor.month
    if day.day < anchor.day:
        index -= 1
    first = _add_months(anchor, (index // months) * months)
    return first, _add_months(first, months)


def _add_months(anchor: date, months: int) -> date:
    """`anchor` moved by whole months; a day past the month's end is its last day."""
    total = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(total, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(anchor.day, last))
