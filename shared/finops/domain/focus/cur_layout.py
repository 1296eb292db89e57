"""AWS Cost and Usage Reports: recognise the legacy and 2.0 layouts by their header."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from finops.errors import InputError

__all__ = [
    "CUR_COLUMNS",
    "CUR_REQUIRED",
    "CurLayout",
    "detect_cur",
    "to_cur2_name",
]

LEGACY: Final = "legacy"
CUR2: Final = "2.0"

# Columns the conversion to FOCUS reads, by their CUR 2.0 names; a legacy column
# name converts to these with `to_cur2_name` (`lineItem/UnblendedCost` ->
# `line_item_unblended_cost`, `reservation/ReservationARN` ->
# `reservation_reservation_a_r_n`), the rule AWS used to name CUR 2.0's columns.
CUR_COLUMNS: Final = (
    "identity_line_item_id",
    "bill_invoice_id",
    "bill_invoicing_entity",
    "bill_bill_type",
    "bill_payer_account_id",
    "bill_billing_period_start_date",
    "bill_billing_period_end_date",
    "line_item_usage_account_id",
    "line_item_line_item_type",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_operation",
    "line_item_availability_zone",
    "line_item_resource_id",
    "line_item_currency_code",
    "line_item_unblended_cost",
    "line_item_net_unblended_cost",
    "line_item_line_item_description",
    "line_item_legal_entity",
    "product_product_name",
    "product_region_code",
    "product_region",
    "pricing_public_on_demand_cost",
    "reservation_reservation_a_r_n",
    "reservation_effective_cost",
    "reservation_unused_amortized_upfront_fee_for_billing_period",
    "reservation_unused_recurring_fee",
    "savings_plan_savings_plan_a_r_n",
    "savings_plan_savings_plan_effective_cost",
    "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment",
    "split_line_item_parent_resource_id",
    "split_line_item_split_cost",
    "split_line_item_unused_cost",
)

# A CUR lacking any of these cannot become FOCUS lines.
CUR_REQUIRED: Final = (
    "bill_payer_account_id",
    "bill_billing_period_start_date",
    "line_item_line_item_type",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_unblended_cost",
)

_LEGACY_TAG_PREFIX: Final = "resourceTags/"
_CUR2_TAGS: Final = "resource_tags"
_UPPER: Final = re.compile(r"([A-Z])")
_UNDERSCORES: Final = re.compile(r"_+")


def to_cur2_name(legacy: str) -> str:
    """The CUR 2.0 name of a legacy column (`bill/PayerAccountId` ->
    `bill_payer_account_id`)."""
    snake = _UPPER.sub(r"_\1", legacy.replace("/", "_")).lower()
    return _UNDERSCORES.sub("_", snake).strip("_")


def _tag_key(column: str) -> str:
    """A legacy tag column's key: user tags lose `user:`, AWS tags keep `aws:`."""
    key = column.removeprefix(_LEGACY_TAG_PREFIX)
    return key.removeprefix("user:")


@dataclass(frozen=True, slots=True)
class CurLayout:
    """Which CUR layout a file has and which of its columns hold what."""

    version: str
    columns: Mapping[str, str]  # CUR 2.0 name -> the file's column
    tag_columns: Mapping[str, str] = field(default_factory=dict)  # legacy: key -> col
    tags_column: str | None = None  # CUR 2.0: the resource_tags map (or JSON text)

    @property
    def name(self) -> str:
        """The layout's name in run records and reports."""
        return "AWS CUR (legacy)" if self.version == LEGACY else "AWS CUR 2.0"

    def file_columns(self, *, with_tags: bool) -> list[str]:
        """The file's columns the conversion reads (tags only when wanted)."""
        names = list(self.columns.values())
        if with_tags:
            names += list(self.tag_columns.values())
            names += [self.tags_column] if self.tags_column else []
        return names

    def source(self, name: str) -> str:
        """The file's column for a CUR 2.0 name (for messages), or that name."""
        return self.columns.get(name, name)


def detect_cur(header: Iterable[str], *, file: str) -> CurLayout | None:
    """The CUR layout of a header, or None; refuses a CUR missing required columns."""
    names = tuple(header)
    legacy = any(n.startswith("lineItem/") for n in names)
    cur2 = "line_item_unblended_cost" in names or "line_item_usage_start_date" in names
    if not legacy and not cur2:
        return None
    layout = _legacy_layout(names) if legacy else _cur2_layout(names)
    missing = [c for c in CUR_REQUIRED if c not in layout.columns]
    if missing:
        shown = [_legacy_name(c) if legacy else c for c in missing]
        raise InputError(
            f"{layout.name} without required columns: {', '.join(shown)}", file=file
        )
    return layout


def _legacy_layout(names: tuple[str, ...]) -> CurLayout:
    wanted = set(CUR_COLUMNS)
    columns: dict[str, str] = {}
    tags: dict[str, str] = {}
    for name in names:
        if name.startswith(_LEGACY_TAG_PREFIX):
            tags.setdefault(_tag_key(name), name)
        elif (cur2 := to_cur2_name(name)) in wanted:
            columns.setdefault(cur2, name)
    return CurLayout(LEGACY, columns, tag_columns=tags)


def _cur2_layout(names: tuple[str, ...]) -> CurLayout:
    present = set(names)
    columns: dict[str, str] = {c: c for c in CUR_COLUMNS if c in present}
    tags = _CUR2_TAGS if _CUR2_TAGS in present else None
    return CurLayout(CUR2, columns, tags_column=tags)


_LEGACY_NAMES: Final = {
    "bill_payer_account_id": "bill/PayerAccountId",
    "bill_billing_period_start_date": "bill/BillingPeriodStartDate",
    "line_item_line_item_type": "lineItem/LineItemType",
    "line_item_usage_start_date": "lineItem/UsageStartDate",
    "line_item_usage_end_date": "lineItem/UsageEndDate",
    "line_item_unblended_cost": "lineItem/UnblendedCost",
}


def _legacy_name(cur2: str) -> str:
    """The legacy spelling of a required column (for messages)."""
    return _LEGACY_NAMES.get(cur2, cur2)
