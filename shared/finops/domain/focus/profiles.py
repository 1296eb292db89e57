"""Column-mapping profiles: simple provider CSVs (the ledger prototype's) to FOCUS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from finops.domain.focus.parsing import to_utc_array
from finops.errors import InputError

__all__ = [
    "PROFILES",
    "PROTOTYPE_COLUMNS",
    "ProviderProfile",
    "find_profile",
    "to_focus_batch",
]

PROTOTYPE_COLUMNS: Final = (
    "ChargeDescription",
    "BilledCost",
    "ServiceName",
    "Environment",
    "BillingPeriodStart",
)


@dataclass(frozen=True, slots=True)
class ProviderProfile:
    """How one provider's simple CSV maps to FOCUS: constants and a category table."""

    name: str
    provider: str
    billing_account_id: str
    categories: Mapping[str, str] = field(default_factory=dict)
    currency: str = "USD"


PROFILES: Final[Mapping[str, ProviderProfile]] = {
    "aws": ProviderProfile(
        "aws",
        "AWS",
        "aws-account",
        {
            "Amazon EC2": "Compute",
            "AWS Lambda": "Compute",
            "Amazon S3": "Storage",
            "Amazon RDS": "Databases",
            "Amazon CloudFront": "Networking",
            "Amazon VPC": "Networking",
        },
    ),
    "azure": ProviderProfile(
        "azure",
        "Microsoft",
        "azure-subscription",
        {
            "Virtual Machines": "Compute",
            "Azure Functions": "Compute",
            "Storage": "Storage",
            "Azure SQL Database": "Databases",
            "Bandwidth": "Networking",
        },
    ),
    "snowflake": ProviderProfile(
        "snowflake",
        "Snowflake",
        "snowflake-account",
        {"Compute": "Compute", "Storage": "Storage", "Cloud Services": "Compute"},
    ),
}


def find_profile(
    header: Sequence[str], path: Path, explicit: str | None = None
) -> ProviderProfile | None:
    """The profile for a prototype-layout file (by name or given), else None."""
    if tuple(header) != PROTOTYPE_COLUMNS:
        return None
    key = explicit or next((k for k in PROFILES if k in path.name.lower()), None)
    if key is None or key not in PROFILES:
        known = ", ".join(PROFILES)
        raise InputError(
            f"provider CSV without a known provider in its name (one of {known})",
            file=str(path),
        )
    return PROFILES[key]


def _month_after(starts: pa.Array) -> pa.Array:
    """The first instant of the month after each timestamp (nulls stay null)."""
    as_numpy = starts.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)
    next_month = (as_numpy.astype("datetime64[M]") + np.timedelta64(1, "M")).astype(
        "datetime64[us]"
    )
    naive = pa.array(next_month, type=pa.timestamp("us"), from_pandas=True)
    return naive.cast(pa.timestamp("us", tz="UTC"))


def _constant(value: str, length: int) -> pa.Array:
    """A text column of one repeated value."""
    return pc.fill_null(pa.nulls(length, pa.string()), value)


def to_focus_batch(batch: pa.RecordBatch, profile: ProviderProfile) -> pa.RecordBatch:
    """A FOCUS-shaped batch: monthly charges, the environment as a tag."""
    n = batch.num_rows
    start, _ = to_utc_array(batch.column("BillingPeriodStart"))
    cost = batch.column("BilledCost")
    service = batch.column("ServiceName")
    environment = batch.column("Environment")
    categories = pa.array(list(profile.categories.values()), pa.string())
    index = pc.index_in(service, pa.array(list(profile.categories), pa.string()))
    credit = pc.fill_null(pc.starts_with(pc.utf8_trim_whitespace(cost), "-"), False)
    columns = {
        "ProviderName": _constant(profile.provider, n),
        "PublisherName": _constant(profile.provider, n),
        "InvoiceIssuerName": _constant(profile.provider, n),
        "BillingAccountId": _constant(profile.billing_account_id, n),
        "BillingCurrency": _constant(profile.currency, n),
        "BillingPeriodStart": batch.column("BillingPeriodStart"),
        "ChargePeriodStart": start,
        "ChargePeriodEnd": _month_after(start),
        "ChargeCategory": pc.if_else(credit, "Credit", "Usage"),
        "ChargeDescription": batch.column("ChargeDescription"),
        "ServiceName": service,
        "ServiceCategory": pc.fill_null(pc.take(categories, index), "Other"),
        "BilledCost": cost,
        "EffectiveCost": cost,
        "Environment": environment,
        "Tags": _environment_tags(environment),
    }
    return pa.RecordBatch.from_pydict(columns)


def _environment_tags(environment: pa.Array) -> pa.Array:
    """`{"environment": "<value>"}` JSON per row; null when there is no environment."""
    escaped = pc.replace_substring(
        pc.replace_substring(environment, "\\", "\\\\"), '"', '\\"'
    )
    return pc.binary_join_element_wise('{"environment": "', escaped, '"}', "")
