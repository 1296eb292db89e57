"""Normalised lines from the cost-lines topic, written back as a FOCUS 1.0 CSV file.

Outside producers send `CostRecord`s; turning them into a FOCUS file lets the topic's
lines go through exactly the reading, validation and mapping that uploaded files do.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from finops.domain.records import CostRecord

__all__ = ["FOCUS_FIELDS", "records_to_focus_csv"]

# FOCUS 1.0 column -> CostRecord field.
FOCUS_FIELDS: Final = {
    "ProviderName": "provider",
    "BillingAccountId": "billing_account_id",
    "SubAccountId": "sub_account_id",
    "BillingPeriodStart": "billing_period_start",
    "ChargePeriodStart": "charge_period_start",
    "ChargePeriodEnd": "charge_period_end",
    "ChargeCategory": "charge_category",
    "ServiceCategory": "service_category",
    "ServiceName": "service_name",
    "ResourceId": "resource_id",
    "RegionId": "region_id",
    "BillingCurrency": "billing_currency",
    "BilledCost": "billed_cost",
    "EffectiveCost": "effective_cost",
    "ListCost": "list_cost",
    "ContractedCost": "contracted_cost",
    "Tags": "tags",
}


def _text(value: object) -> str:
    """A field as FOCUS text; None is the literal NULL."""
    if value is None:
        return "NULL"
    if isinstance(value, dict):
        return json.dumps(value) if value else "NULL"
    if isinstance(value, Decimal):
        return format(value, "f")
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def records_to_focus_csv(records: Sequence[CostRecord]) -> bytes:
    """A FOCUS 1.0 CSV of records in order: record i is on line i + 2."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FOCUS_FIELDS)
    for record in records:
        writer.writerow([_text(getattr(record, f)) for f in FOCUS_FIELDS.values()])
    return out.getvalue().encode()
