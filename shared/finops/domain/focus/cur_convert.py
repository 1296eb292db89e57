"""AWS CUR rows to FOCUS columns, one Arrow batch at a time (docs/ingest.md: why)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from finops.domain.focus.cur_layout import CurLayout
from finops.domain.focus.parsing import to_decimal_array

__all__ = [
    "CHARGE_CATEGORIES",
    "CUR_FOCUS_HEADER",
    "CUR_LABELS",
    "SERVICE_CATEGORIES",
    "to_focus_batch",
]

# lineItem/LineItemType -> FOCUS ChargeCategory; another type becomes Adjustment.
CHARGE_CATEGORIES: Final[Mapping[str, str]] = {
    "Usage": "Usage",
    "DiscountedUsage": "Usage",
    "SavingsPlanCoveredUsage": "Usage",
    "SavingsPlanNegation": "Usage",
    "BundledDiscount": "Usage",
    "Discount": "Usage",
    "EdpDiscount": "Usage",
    "PrivateRateDiscount": "Usage",
    "DistributorDiscount": "Usage",
    "Tax": "Tax",
    "Fee": "Purchase",
    "RIFee": "Purchase",
    "SavingsPlanUpfrontFee": "Purchase",
    "SavingsPlanRecurringFee": "Purchase",
    "Credit": "Credit",
    "Refund": "Credit",
}
_OTHER_CATEGORY: Final = "Adjustment"

# lineItem/ProductCode -> FOCUS ServiceCategory (the common services); else Other.
SERVICE_CATEGORIES: Final[Mapping[str, str]] = {
    **dict.fromkeys(
        (
            "AmazonEC2",
            "AWSLambda",
            "AmazonECS",
            "AmazonEKS",
            "AmazonECR",
            "AmazonLightsail",
            "AWSBatch",
            "AWSElasticBeanstalk",
            "AWSAppRunner",
        ),
        "Compute",
    ),
    **dict.fromkeys(
        ("AmazonS3", "AmazonEFS", "AmazonFSx", "AWSBackup", "AmazonGlacier"),
        "Storage",
    ),
    **dict.fromkeys(
        (
            "AmazonRDS",
            "AmazonDynamoDB",
            "AmazonElastiCache",
            "AmazonRedshift",
            "AmazonDocDB",
            "AmazonNeptune",
            "AmazonMemoryDB",
        ),
        "Databases",
    ),
    **dict.fromkeys(
        (
            "AmazonVPC",
            "AmazonCloudFront",
            "AmazonRoute53",
            "AWSELB",
            "AWSDataTransfer",
            "AmazonApiGateway",
            "AWSDirectConnect",
            "AWSGlobalAccelerator",
        ),
        "Networking",
    ),
    **dict.fromkeys(
        ("AmazonAthena", "AWSGlue", "AmazonKinesis", "AmazonES", "ElasticMapReduce"),
        "Analytics",
    ),
    **dict.fromkeys(("AmazonSNS", "AWSQueueService", "AmazonMQ"), "Integration"),
    **dict.fromkeys(
        ("AmazonCloudWatch", "AWSCloudTrail", "AWSConfig", "AWSCostExplorer"),
        "Management and Governance",
    ),
    **dict.fromkeys(
        ("awskms", "AWSSecretsManager", "AmazonGuardDuty", "awswaf", "AWSShield"),
        "Security",
    ),
    **dict.fromkeys(("AmazonSageMaker", "AmazonBedrock"), "AI and Machine Learning"),
}

# The FOCUS-shaped batch every CUR row becomes (custom columns start with x_).
CUR_FOCUS_HEADER: Final = (
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "BillingAccountId",
    "SubAccountId",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ServiceName",
    "ServiceCategory",
    "ResourceId",
    "RegionId",
    "AvailabilityZone",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "CommitmentDiscountId",
    "CommitmentDiscountType",
    "Tags",
    "x_LineItemType",
    "x_UsageType",
    "x_Operation",
    "x_ProductName",
    "x_InvoiceId",
    "x_LineItemId",
    "x_SplitParentResourceId",
    "x_SplitCost",
    "x_UnusedCost",
)

# FOCUS column -> the CUR columns it comes from (named in reject reasons).
CUR_LABELS: Final[Mapping[str, tuple[str, ...]]] = {
    "BillingPeriodStart": ("bill_billing_period_start_date",),
    "ChargePeriodStart": ("line_item_usage_start_date",),
    "ChargePeriodEnd": ("line_item_usage_end_date",),
    "BilledCost": ("line_item_net_unblended_cost", "line_item_unblended_cost"),
    "EffectiveCost": ("line_item_line_item_type", "line_item_unblended_cost"),
    "ListCost": ("pricing_public_on_demand_cost",),
}

_ZERO: Final = "0"
_EXACT: Final = pa.decimal128(36, 18)


class _Columns:
    """The batch's CUR columns by CUR 2.0 name; absent ones read as null text."""

    def __init__(self, batch: pa.RecordBatch, layout: CurLayout) -> None:
        self._batch = batch
        self._layout = layout
        self.rows = batch.num_rows

    def raw(self, name: str) -> pa.Array:
        column = self._layout.columns.get(name)
        if column is None:
            return pa.nulls(self.rows, pa.string())
        return self._batch.column(column)

    def text(self, name: str) -> pa.Array:
        values = self.raw(name)
        return values if pa.types.is_string(values.type) else values.cast(pa.string())

    def present(self, name: str) -> pa.Array:
        """True where the column holds a non-empty value."""
        values = self.text(name)
        return pc.fill_null(pc.not_equal(values, ""), False)


def to_focus_batch(batch: pa.RecordBatch, layout: CurLayout) -> pa.RecordBatch:
    """A FOCUS-shaped batch (CUR_FOCUS_HEADER) of CUR rows; costs stay text."""
    cur = _Columns(batch, layout)
    kind = cur.text("line_item_line_item_type")
    n = cur.rows
    columns = {
        "ProviderName": _constant("AWS", n),
        "PublisherName": pc.coalesce(cur.text("line_item_legal_entity"), "AWS"),
        "InvoiceIssuerName": pc.coalesce(cur.text("bill_invoicing_entity"), "AWS"),
        "BillingAccountId": cur.text("bill_payer_account_id"),
        "SubAccountId": cur.text("line_item_usage_account_id"),
        "BillingCurrency": cur.text("line_item_currency_code"),
        "BillingPeriodStart": cur.raw("bill_billing_period_start_date"),
        "BillingPeriodEnd": cur.raw("bill_billing_period_end_date"),
        "ChargePeriodStart": cur.raw("line_item_usage_start_date"),
        "ChargePeriodEnd": cur.raw("line_item_usage_end_date"),
        "ChargeCategory": _lookup(kind, CHARGE_CATEGORIES, _OTHER_CATEGORY),
        "ChargeClass": pc.if_else(pc.equal(kind, "Refund"), "Correction", None),
        "ChargeDescription": cur.text("line_item_line_item_description"),
        "ServiceName": cur.text("line_item_product_code"),
        "ServiceCategory": _lookup(
            cur.text("line_item_product_code"), SERVICE_CATEGORIES, "Other"
        ),
        "ResourceId": cur.text("line_item_resource_id"),
        "RegionId": pc.coalesce(
            cur.text("product_region_code"), cur.text("product_region")
        ),
        "AvailabilityZone": cur.text("line_item_availability_zone"),
        "BilledCost": pc.coalesce(
            cur.text("line_item_net_unblended_cost"),
            cur.text("line_item_unblended_cost"),
        ),
        "EffectiveCost": _effective_cost(cur, kind),
        "ListCost": cur.text("pricing_public_on_demand_cost"),
        **_commitments(cur),
        "Tags": _tags(batch, layout),
        "x_LineItemType": kind,
        "x_UsageType": cur.text("line_item_usage_type"),
        "x_Operation": cur.text("line_item_operation"),
        "x_ProductName": cur.text("product_product_name"),
        "x_InvoiceId": cur.text("bill_invoice_id"),
        "x_LineItemId": cur.text("identity_line_item_id"),
        "x_SplitParentResourceId": cur.text("split_line_item_parent_resource_id"),
        "x_SplitCost": cur.text("split_line_item_split_cost"),
        "x_UnusedCost": cur.text("split_line_item_unused_cost"),
    }
    return pa.RecordBatch.from_pydict(columns)


def _constant(value: str, length: int) -> pa.Array:
    return pc.fill_null(pa.nulls(length, pa.string()), value)


def _lookup(keys: pa.Array, table: Mapping[str, str], default: str) -> pa.Array:
    """Each key's value in the table; `default` for other keys, null for null keys."""
    index = pc.index_in(keys, pa.array(list(table), pa.string()))
    found = pc.take(pa.array(list(table.values()), pa.string()), index)
    return pc.if_else(pc.is_null(keys), None, pc.fill_null(found, default))


def _commitments(cur: _Columns) -> dict[str, pa.Array]:
    """Which Savings Plan or reservation a line draws on, and its type."""
    plan = cur.present("savings_plan_savings_plan_a_r_n")
    reserved = cur.present("reservation_reservation_a_r_n")
    ids = pc.if_else(
        plan,
        cur.text("savings_plan_savings_plan_a_r_n"),
        pc.if_else(reserved, cur.text("reservation_reservation_a_r_n"), None),
    )
    kinds = pc.if_else(
        plan, "Savings Plan", pc.if_else(reserved, "Reserved Instance", None)
    )
    return {"CommitmentDiscountId": ids, "CommitmentDiscountType": kinds}


def _effective_cost(cur: _Columns, kind: pa.Array) -> pa.Array:
    """Amortised cost: Savings Plan and RI usage at their effective cost, upfront fees
    0 (they are amortised onto usage), recurring fees only for their unused part."""
    cases = [
        (
            "SavingsPlanCoveredUsage",
            cur.text("savings_plan_savings_plan_effective_cost"),
        ),
        ("SavingsPlanNegation", _constant(_ZERO, cur.rows)),
        ("SavingsPlanUpfrontFee", _constant(_ZERO, cur.rows)),
        (
            "SavingsPlanRecurringFee",
            _combine(
                cur,
                "savings_plan_total_commitment_to_date",
                "savings_plan_used_commitment",
                subtract=True,
            ),
        ),
        ("DiscountedUsage", cur.text("reservation_effective_cost")),
        (
            "RIFee",
            _combine(
                cur,
                "reservation_unused_amortized_upfront_fee_for_billing_period",
                "reservation_unused_recurring_fee",
                subtract=False,
            ),
        ),
    ]
    result = cur.text("line_item_unblended_cost")
    # An RI bought upfront is a Fee line naming the reservation: amortised, so 0.
    upfront = pc.and_(
        pc.fill_null(pc.equal(kind, "Fee"), False),
        cur.present("reservation_reservation_a_r_n"),
    )
    result = pc.if_else(upfront, _ZERO, result)
    for name, values in cases:
        result = pc.if_else(pc.fill_null(pc.equal(kind, name), False), values, result)
    return result


def _combine(cur: _Columns, left: str, right: str, *, subtract: bool) -> pa.Array:
    """Exact left +- right of two cost columns, as text; a value that is not a number
    is passed on as it is, so the line is rejected naming it."""
    a_text, b_text = cur.text(left), cur.text(right)
    a, a_bad = to_decimal_array(a_text)
    b, b_bad = to_decimal_array(b_text)
    a, b = a.cast(_EXACT), b.cast(_EXACT)
    exact = pc.subtract(a, b) if subtract else pc.add(a, b)
    text = _plain_decimal_text(exact)
    text = pc.if_else(pa.array(b_bad), b_text, text)
    return pc.if_else(pa.array(a_bad), a_text, text)


def _plain_decimal_text(values: pa.Array) -> pa.Array:
    """Decimal text without trailing zeros (`1.500000000000000000` -> `1.5`)."""
    text = values.cast(pa.string())
    trimmed = pc.replace_substring_regex(text, r"(\.\d*?)0+$", r"\1")
    return pc.replace_substring_regex(trimmed, r"\.$", "")


def _tags(batch: pa.RecordBatch, layout: CurLayout) -> pa.Array:
    """Tags as JSON text: legacy tag columns, or CUR 2.0's map (or its JSON text)."""
    n = batch.num_rows
    names = batch.schema.names
    if layout.tags_column is not None and layout.tags_column in names:
        return _cur2_tags(batch.column(layout.tags_column))
    pairs = [
        (key, batch.column(column))
        for key, column in layout.tag_columns.items()
        if column in names
    ]
    if not pairs:
        return pa.nulls(n, pa.string())
    # Each present tag as `"key": "value", `; joined, then the last `, ` dropped.
    # (binary_join_element_wise's null_handling="skip" loses rows in pyarrow 26.)
    parts = [
        pc.fill_null(
            pc.binary_join_element_wise(
                _entry(pa.array([key] * n, pa.string()), value), ", ", ""
            ),
            "",
        )
        for key, value in pairs
    ]
    joined = pc.binary_join_element_wise(*parts, "")
    joined = pc.replace_substring_regex(joined, ", $", "")
    return pc.binary_join_element_wise("{", joined, "}", "")


def _escaped(values: pa.Array) -> pa.Array:
    """Text escaped for a JSON string."""
    for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r")):
        values = pc.replace_substring(values, raw, escaped)
    return pc.replace_substring(values, "\t", "\\t")


def _entry(keys: pa.Array, values: pa.Array) -> pa.Array:
    """`"key": "value"` per row; null where the value is null or empty."""
    values = values if pa.types.is_string(values.type) else values.cast(pa.string())
    values = pc.if_else(pc.equal(values, ""), None, values)
    return pc.binary_join_element_wise(
        '"', _escaped(keys), '": "', _escaped(values), '"', ""
    )


def _cur2_tags(tags: pa.Array) -> pa.Array:
    """CUR 2.0 resource_tags: user tags lose their `user_` prefix; JSON text out."""
    if not pa.types.is_map(tags.type):
        text = tags if pa.types.is_string(tags.type) else tags.cast(pa.string())
        return pc.replace_substring_regex(text, r'"user_([^"]*)"\s*:', r'"\1":')
    entry_type = pa.struct([tags.type.key_field, tags.type.item_field])
    as_lists = pc.cast(tags, pa.list_(entry_type))
    flat = as_lists.flatten()  # the entries of the rows in this slice
    keys = pc.replace_substring_regex(flat.field(0).cast(pa.string()), "^user_", "")
    items = pc.fill_null(flat.field(1).cast(pa.string()), "")
    entries = pc.binary_join_element_wise(
        '"', _escaped(keys), '": "', _escaped(items), '"', ""
    )
    offsets = pc.subtract(as_lists.offsets, as_lists.offsets[0])
    lists = pa.ListArray.from_arrays(offsets, entries, mask=as_lists.is_null())
    joined = pc.binary_join(lists, ", ")
    return pc.binary_join_element_wise("{", joined, "}", "")
