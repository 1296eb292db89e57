"""Hourly FOCUS 1.3 lines as CSV text (what a provider's export would hold)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

__all__ = ["COLUMNS", "HourLine", "Resource", "render_csv"]

COLUMNS: Final = (
    "BillingAccountId",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargeCategory",
    "ChargeDescription",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "HostProviderName",
    "InvoiceIssuerName",
    "RegionId",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "ServiceProviderName",
    "SubAccountId",
    "Tags",
)


@dataclass(frozen=True, slots=True)
class Resource:
    """A billable resource of one provider, costing `hourly` while it runs."""

    resource_id: str
    name: str
    resource_type: str
    provider: str  # ServiceProviderName: AWS, Microsoft, Snowflake
    service_name: str
    service_category: str
    region: str
    account: str
    sub_account: str
    hourly: Decimal
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HourLine:
    resource: Resource
    hour: datetime  # UTC, on the hour


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _month(moment: datetime) -> tuple[datetime, datetime]:
    first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return first, nxt


def render_csv(lines: Iterable[HourLine]) -> str:
    """A FOCUS 1.3 CSV of the lines (header included)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for line in lines:
        r = line.resource
        first, end = _month(line.hour)
        cost = f"{r.hourly:.6f}"
        writer.writerow(
            (
                r.account,
                "USD",
                _iso(first),
                _iso(end),
                "Usage",
                f"{r.name} ({r.resource_type}) one hour",
                _iso(line.hour),
                _iso(line.hour + timedelta(hours=1)),
                cost,
                cost,
                cost,
                cost,
                r.provider,
                r.provider,
                r.region,
                r.resource_id,
                r.name,
                r.resource_type,
                r.service_category,
                r.service_name,
                r.provider,
                r.sub_account,
                json.dumps(r.tags, sort_keys=True),
            )
        )
    return out.getvalue()
