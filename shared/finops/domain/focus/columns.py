"""FOCUS column names across versions 1.0 to 1.3, resolved to one set of field names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from finops.errors import InputError

__all__ = [
    "COST_COLUMNS",
    "FIELD_COLUMNS",
    "FOCUS_VERSIONS",
    "REQUIRED_FIELDS",
    "ColumnMap",
    "detect_version",
    "field_of",
    "resolve_columns",
]

FOCUS_VERSIONS: Final = ("1.0", "1.1", "1.2", "1.3")

# Normalised field -> the columns that hold it, newest name first (1.3 renamed two).
FIELD_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    "provider": ("ServiceProviderName", "ProviderName"),
    "publisher": ("HostProviderName", "PublisherName"),
    "invoice_issuer": ("InvoiceIssuerName",),
    "billing_account_id": ("BillingAccountId",),
    "sub_account_id": ("SubAccountId",),
    "billing_period_start": ("BillingPeriodStart",),
    "billing_period_end": ("BillingPeriodEnd",),
    "charge_period_start": ("ChargePeriodStart",),
    "charge_period_end": ("ChargePeriodEnd",),
    "charge_category": ("ChargeCategory",),
    "charge_description": ("ChargeDescription",),
    "service_category": ("ServiceCategory",),
    "service_name": ("ServiceName",),
    "resource_id": ("ResourceId",),
    "resource_name": ("ResourceName",),
    "resource_type": ("ResourceType",),
    "region_id": ("RegionId",),
    "billing_currency": ("BillingCurrency",),
    "billed_cost": ("BilledCost",),
    "effective_cost": ("EffectiveCost",),
    "list_cost": ("ListCost",),
    "contracted_cost": ("ContractedCost",),
    "tags": ("Tags",),
}

COST_COLUMNS: Final = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")

# A file lacking any of these (under any version's name) has an unknown layout.
REQUIRED_FIELDS: Final = (
    "provider",
    "billing_period_start",
    "charge_period_start",
    "charge_period_end",
    "billed_cost",
)

# Columns first introduced by a version; the newest one present names the version.
_VERSION_MARKERS: Final = (
    ("1.3", ("ServiceProviderName", "HostProviderName", "AllocatedMethodId")),
    ("1.2", ("InvoiceId", "BillingAccountType", "PricingCurrency", "SubAccountType")),
    ("1.1", ("ServiceSubcategory", "SkuMeter", "CommitmentDiscountQuantity")),
)

_FIELD_BY_COLUMN: Final = {
    column: field for field, columns in FIELD_COLUMNS.items() for column in columns
}


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Which column of one file holds each normalised field."""

    version: str
    columns: Mapping[str, str]
    header: tuple[str, ...]
    # Column -> how reject reasons name it (a converted layout names its sources).
    labels: Mapping[str, str] = field(default_factory=dict)

    def label(self, column: str) -> str:
        """How messages name a column of this file."""
        return self.labels.get(column, column)

    def column_for(self, name: str) -> str | None:
        """The file's column for a FOCUS column name of any version, or None."""
        field = _FIELD_BY_COLUMN.get(name)
        if field is not None:
            return self.columns.get(field)
        return name if name in self.header else None


def field_of(column: str) -> str | None:
    """The normalised field a FOCUS column name of any version stands for."""
    return _FIELD_BY_COLUMN.get(column)


def detect_version(header: Iterable[str]) -> str:
    """The newest FOCUS version whose new columns appear in the header (else 1.0)."""
    names = set(header)
    for version, markers in _VERSION_MARKERS:
        if names.intersection(markers):
            return version
    return "1.0"


def resolve_columns(
    header: Iterable[str],
    *,
    file: str,
    required: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
) -> ColumnMap:
    """Map fields to the file's columns; refuse a file missing a required one."""
    names = tuple(header)
    present = set(names)
    columns = {
        field: next(c for c in candidates if c in present)
        for field, candidates in FIELD_COLUMNS.items()
        if present.intersection(candidates)
    }
    missing = ["/".join(FIELD_COLUMNS[f]) for f in REQUIRED_FIELDS if f not in columns]
    missing += [c for c in required if c not in present and field_of(c) not in columns]
    if missing:
        raise InputError(
            f"unknown layout, missing columns: {', '.join(dict.fromkeys(missing))}",
            file=file,
        )
    return ColumnMap(
        version=detect_version(names),
        columns=columns,
        header=names,
        labels=dict(labels or {}),
    )
