"""AWS Cost and Usage Reports the tests and benchmarks generate: legacy and 2.0 layouts.

The column sets are those AWS writes (identity, bill, lineItem, product, pricing,
reservation, savingsPlan, splitLineItem, resourceTags); the rows cover every line item
type the conversion treats differently, split cost allocation rows, tags, credits and
refunds. Amounts have ten decimals, as in real reports.
"""

from __future__ import annotations

import calendar
import csv
import gzip
import json
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from finops.domain.focus.cur_layout import to_cur2_name

__all__ = [
    "LEGACY_COLUMNS",
    "PAYER",
    "TAG_COLUMNS",
    "CurRow",
    "cur2_name",
    "cur_rows",
    "replicate_table",
    "rows_table",
    "write_cur2_csv",
    "write_cur2_parquet",
    "write_legacy_csv",
    "write_table_csv",
]

PAYER: Final = "111122223333"
LINKED: Final = "444455556666"
CurRow = dict[str, str]  # legacy column name -> text ("" is null)

# The legacy column set of a report with resource IDs, split cost allocation data and
# three cost allocation tags (a subset of what AWS writes; the order is AWS's).
LEGACY_COLUMNS: Final = (
    "identity/LineItemId",
    "identity/TimeInterval",
    "bill/InvoiceId",
    "bill/InvoicingEntity",
    "bill/BillingEntity",
    "bill/BillType",
    "bill/PayerAccountId",
    "bill/BillingPeriodStartDate",
    "bill/BillingPeriodEndDate",
    "lineItem/UsageAccountId",
    "lineItem/LineItemType",
    "lineItem/UsageStartDate",
    "lineItem/UsageEndDate",
    "lineItem/ProductCode",
    "lineItem/UsageType",
    "lineItem/Operation",
    "lineItem/AvailabilityZone",
    "lineItem/ResourceId",
    "lineItem/UsageAmount",
    "lineItem/NormalizationFactor",
    "lineItem/NormalizedUsageAmount",
    "lineItem/CurrencyCode",
    "lineItem/UnblendedRate",
    "lineItem/UnblendedCost",
    "lineItem/BlendedRate",
    "lineItem/BlendedCost",
    "lineItem/NetUnblendedCost",
    "lineItem/LineItemDescription",
    "lineItem/TaxType",
    "lineItem/LegalEntity",
    "product/ProductName",
    "product/instanceType",
    "product/location",
    "product/region",
    "product/regionCode",
    "product/servicecode",
    "product/sku",
    "pricing/LeaseContractLength",
    "pricing/OfferingClass",
    "pricing/PurchaseOption",
    "pricing/RateCode",
    "pricing/RateId",
    "pricing/currency",
    "pricing/publicOnDemandCost",
    "pricing/publicOnDemandRate",
    "pricing/term",
    "pricing/unit",
    "reservation/AmortizedUpfrontCostForUsage",
    "reservation/AmortizedUpfrontFeeForBillingPeriod",
    "reservation/EffectiveCost",
    "reservation/EndTime",
    "reservation/ModificationStatus",
    "reservation/NumberOfReservations",
    "reservation/RecurringFeeForUsage",
    "reservation/ReservationARN",
    "reservation/StartTime",
    "reservation/SubscriptionId",
    "reservation/TotalReservedUnits",
    "reservation/UnitsPerReservation",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "reservation/UnusedQuantity",
    "reservation/UnusedRecurringFee",
    "reservation/UpfrontValue",
    "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/SavingsPlanARN",
    "savingsPlan/SavingsPlanRate",
    "savingsPlan/UsedCommitment",
    "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/AmortizedUpfrontCommitmentForBillingPeriod",
    "savingsPlan/RecurringCommitmentForBillingPeriod",
    "splitLineItem/ParentResourceId",
    "splitLineItem/SplitUsage",
    "splitLineItem/SplitUsageRatio",
    "splitLineItem/SplitCost",
    "splitLineItem/UnusedCost",
    "splitLineItem/ActualUsage",
    "splitLineItem/ReservedUsage",
    "splitLineItem/PublicOnDemandSplitCost",
    "splitLineItem/PublicOnDemandUnusedCost",
    "resourceTags/user:team",
    "resourceTags/user:env",
    "resourceTags/aws:createdBy",
    "costCategory/BusinessUnit",
)
TAG_COLUMNS: Final = tuple(c for c in LEGACY_COLUMNS if c.startswith("resourceTags/"))
_NUMERIC_PREFIXES: Final = ("lineItem/", "pricing/", "reservation/", "savingsPlan/")
_NUMERIC: Final = frozenset(
    c
    for c in LEGACY_COLUMNS
    if any(
        word in c
        for word in ("Cost", "Fee", "Amount", "Rate", "Usage", "Factor", "Commitment")
    )
    and not c.endswith(("UsageType", "UsageStartDate", "UsageEndDate"))
    and c.startswith((*_NUMERIC_PREFIXES, "splitLineItem/"))
    and c not in ("pricing/RateCode", "pricing/RateId")
)
_TIMES: Final = frozenset(
    {
        "bill/BillingPeriodStartDate",
        "bill/BillingPeriodEndDate",
        "lineItem/UsageStartDate",
        "lineItem/UsageEndDate",
    }
)
SP_ARN: Final = "arn:aws:savingsplans::111122223333:savingsplan/sp-0001"
RI_ARN: Final = "arn:aws:rds:us-east-1:111122223333:ri:payments-ri"
_TEN: Final = Decimal("0.0000000001")


def cur2_name(legacy: str) -> str:
    """A legacy column's CUR 2.0 name."""
    return to_cur2_name(legacy)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Month:
    """Rows of one billing month; `restated` changes every amount and adds a credit."""

    def __init__(self, month: date, *, seed: int, restated: bool) -> None:
        self.start = datetime(month.year, month.month, 1, tzinfo=UTC)
        days = calendar.monthrange(month.year, month.month)[1]
        self.end = self.start + timedelta(days=days)
        self.days = days
        self.random = random.Random(seed * 7 + (1 if restated else 0))
        self.restated = restated
        self.count = 0

    def amount(self, low: float, high: float) -> Decimal:
        value = Decimal(str(self.random.uniform(low, high)))
        return value.quantize(_TEN)

    def row(self, kind: str, day: datetime | None, **fields: object) -> CurRow:
        self.count += 1
        start, end = (
            (self.start, self.end) if day is None else (day, day + timedelta(days=1))
        )
        row = dict.fromkeys(LEGACY_COLUMNS, "")
        row |= {
            "identity/LineItemId": f"li-{self.start:%Y%m}-{self.count:06d}",
            "identity/TimeInterval": f"{_stamp(start)}/{_stamp(end)}",
            "bill/InvoiceId": f"INV-{self.start:%Y%m}",
            "bill/InvoicingEntity": "Amazon Web Services, Inc.",
            "bill/BillingEntity": "AWS",
            "bill/BillType": "Anniversary",
            "bill/PayerAccountId": PAYER,
            "bill/BillingPeriodStartDate": _stamp(self.start),
            "bill/BillingPeriodEndDate": _stamp(self.end),
            "lineItem/UsageAccountId": LINKED,
            "lineItem/LineItemType": kind,
            "lineItem/UsageStartDate": _stamp(start),
            "lineItem/UsageEndDate": _stamp(end),
            "lineItem/CurrencyCode": "USD",
            "lineItem/LegalEntity": "Amazon Web Services, Inc.",
            "product/region": "us-east-1",
            "product/regionCode": "us-east-1",
        }
        for name, value in fields.items():
            row[name.replace("__", "/")] = str(value)
        return row


def _daily(m: _Month, day: datetime) -> Iterator[CurRow]:
    """One day's usage: instances, pods split from them, Savings Plan, RI, S3."""
    for instance, team in (("i-shop", "shop"), ("i-search", "search"), ("i-0", "")):
        cost = m.amount(1, 40)
        yield m.row(
            "Usage",
            day,
            lineItem__ProductCode="AmazonEC2",
            lineItem__UsageType="BoxUsage:m5.large",
            lineItem__Operation="RunInstances",
            lineItem__ResourceId=instance,
            lineItem__UsageAmount="24",
            lineItem__UnblendedCost=cost,
            lineItem__NetUnblendedCost=cost * Decimal("0.95"),
            lineItem__LineItemDescription="m5.large Linux",
            pricing__publicOnDemandCost=cost,
            product__ProductName="Amazon Elastic Compute Cloud",
            resourceTags__user_team=team,
            resourceTags__user_env="prod" if team else "",
        )
    for pod in ("shop/web-1", "shop/worker-1"):
        yield m.row(
            "Usage",
            day,
            lineItem__ProductCode="AmazonEC2",
            lineItem__UsageType="EKS-EC2-vCPU-Hours",
            lineItem__ResourceId=f"arn:aws:eks:us-east-1:{LINKED}:pod/c1/{pod}",
            lineItem__UnblendedCost="0",
            splitLineItem__ParentResourceId="i-shop",
            splitLineItem__SplitUsage="12",
            splitLineItem__SplitUsageRatio="0.5",
            splitLineItem__SplitCost=m.amount(0.5, 5),
            splitLineItem__UnusedCost=m.amount(0, 1),
            resourceTags__user_team="shop",
        )
    covered = m.amount(2, 9)
    for kind, cost in (
        ("SavingsPlanCoveredUsage", covered),
        ("SavingsPlanNegation", -covered),
    ):
        yield m.row(
            kind,
            day,
            lineItem__ProductCode="AWSLambda",
            lineItem__UsageType="Lambda-GB-Second",
            lineItem__ResourceId="arn:aws:lambda:us-east-1:444455556666:function:search",
            lineItem__UnblendedCost=cost,
            savingsPlan__SavingsPlanARN=SP_ARN,
            savingsPlan__SavingsPlanEffectiveCost=covered * Decimal("0.72"),
            resourceTags__user_team="search",
        )
    yield m.row(
        "DiscountedUsage",
        day,
        lineItem__ProductCode="AmazonRDS",
        lineItem__UsageType="InstanceUsage:db.r5.large",
        lineItem__ResourceId="arn:aws:rds:us-east-1:444455556666:db:payments-1",
        lineItem__UnblendedCost="0",
        reservation__ReservationARN=RI_ARN,
        reservation__EffectiveCost=m.amount(3, 6),
        resourceTags__user_team="payments",
        resourceTags__aws_createdBy="IAMUser:AIDA:deploy",
    )
    yield m.row(
        "Usage",
        day,
        lineItem__ProductCode="AmazonS3",
        lineItem__UsageType="TimedStorage-ByteHrs",
        lineItem__ResourceId="shop-assets",
        lineItem__UnblendedCost=m.amount(0.01, 2),
        resourceTags__user_team="shop",
        resourceTags__user_env='prod "eu"',
    )


def _monthly(m: _Month) -> Iterator[CurRow]:
    """Charges of the whole month: tax, credits, refunds, fees, discounts."""
    commitment = m.amount(100, 200)
    yield m.row(
        "Tax",
        None,
        lineItem__ProductCode="AmazonEC2",
        lineItem__UnblendedCost=m.amount(10, 30),
        lineItem__TaxType="VAT",
    )
    yield m.row(
        "Credit",
        None,
        lineItem__ProductCode="AmazonEC2",
        lineItem__UnblendedCost=-m.amount(5, 50),
        lineItem__LineItemDescription="AWS Activate credit",
    )
    yield m.row(
        "Refund",
        None,
        lineItem__ProductCode="AmazonS3",
        lineItem__UnblendedCost=-m.amount(1, 5),
    )
    yield m.row(
        "SavingsPlanRecurringFee",
        None,
        lineItem__ProductCode="ComputeSavingsPlans",
        lineItem__UnblendedCost=commitment,
        savingsPlan__SavingsPlanARN=SP_ARN,
        savingsPlan__TotalCommitmentToDate=commitment,
        savingsPlan__UsedCommitment=commitment - m.amount(1, 20),
    )
    yield m.row(
        "RIFee",
        None,
        lineItem__ProductCode="AmazonRDS",
        lineItem__UnblendedCost=m.amount(50, 90),
        reservation__ReservationARN=RI_ARN,
        reservation__UnusedAmortizedUpfrontFeeForBillingPeriod=m.amount(0, 3),
        reservation__UnusedRecurringFee=m.amount(0, 4),
    )
    yield m.row(
        "Fee",
        m.start,
        lineItem__ProductCode="AmazonRDS",
        lineItem__UnblendedCost=m.amount(500, 900),
        reservation__ReservationARN=RI_ARN,
    )
    yield m.row(
        "SavingsPlanUpfrontFee",
        m.start,
        lineItem__ProductCode="ComputeSavingsPlans",
        lineItem__UnblendedCost=m.amount(100, 300),
        savingsPlan__SavingsPlanARN=SP_ARN,
    )
    yield m.row(
        "EdpDiscount",
        None,
        lineItem__ProductCode="AmazonEC2",
        lineItem__UnblendedCost=-m.amount(5, 20),
    )
    if m.restated:
        yield m.row(
            "Credit",
            None,
            lineItem__ProductCode="AmazonRDS",
            lineItem__UnblendedCost=-m.amount(1, 3),
            lineItem__LineItemDescription="Service credit (restatement)",
        )


def cur_rows(month: date, *, seed: int = 1, restated: bool = False) -> list[CurRow]:
    """Every line of one billing month (daily granularity) as legacy-named text."""
    m = _Month(month, seed=seed, restated=restated)
    rows: list[CurRow] = []
    for offset in range(m.days):
        rows.extend(_daily(m, m.start + timedelta(days=offset)))
    rows.extend(_monthly(m))
    return [_with_tag_names(r) for r in rows]


def _with_tag_names(row: CurRow) -> CurRow:
    """Fields named `resourceTags/user_team` above are `resourceTags/user:team`."""
    fixed = {}
    for name, value in row.items():
        if name.startswith("resourceTags/") and "_" in name and ":" not in name:
            prefix, _, rest = name.removeprefix("resourceTags/").partition("_")
            name = f"resourceTags/{prefix}:{rest}"
        fixed[name] = value
    return {c: fixed.get(c, "") for c in LEGACY_COLUMNS}


def write_legacy_csv(rows: Sequence[CurRow], path: Path) -> Path:
    """A legacy CUR CSV (`.gz` names get gzip), every field quoted as AWS writes."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(LEGACY_COLUMNS)
        writer.writerows([row[c] for c in LEGACY_COLUMNS] for row in rows)
    return path


def _cur2_columns() -> list[str]:
    plain = [c for c in LEGACY_COLUMNS if "Tags/" not in c and "Category/" not in c]
    return [cur2_name(c) for c in plain] + ["resource_tags", "cost_category"]


def _cur2_tags(row: CurRow) -> list[tuple[str, str]]:
    """CUR 2.0 keys: `user:team` -> `user_team`."""
    return [
        (c.removeprefix("resourceTags/").replace(":", "_"), row[c])
        for c in TAG_COLUMNS
        if row[c]
    ]


def rows_table(rows: Sequence[CurRow]) -> pa.Table:
    """CUR 2.0 rows as Arrow, typed as Data Exports writes Parquet."""
    columns: dict[str, pa.Array] = {}
    for legacy in LEGACY_COLUMNS:
        if legacy in TAG_COLUMNS or legacy.startswith("costCategory/"):
            continue
        values = [r[legacy] or None for r in rows]
        columns[cur2_name(legacy)] = _typed(legacy, values)
    tag_type = pa.map_(pa.string(), pa.string())
    columns["resource_tags"] = pa.array([_cur2_tags(r) for r in rows], tag_type)
    columns["cost_category"] = pa.array([[] for _ in rows], tag_type)
    return pa.table(columns)


def _typed(legacy: str, values: list[str | None]) -> pa.Array:
    if legacy in _TIMES:
        parsed = [
            None if v is None else datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ")
            for v in values
        ]
        return pa.array(parsed, pa.timestamp("ms"))
    if legacy in _NUMERIC:
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    return pa.array(values, pa.string())


def write_cur2_parquet(rows: Sequence[CurRow], path: Path) -> Path:
    """A CUR 2.0 Parquet file (costs as doubles, tags as a map)."""
    pq.write_table(rows_table(rows), path)
    return path


def write_cur2_csv(rows: Sequence[CurRow], path: Path) -> Path:
    """A CUR 2.0 CSV (`.gz` names get gzip); resource_tags as JSON text."""
    opener = gzip.open if path.suffix == ".gz" else open
    names = _cur2_columns()
    with opener(path, "wt", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            plain = [
                row[c]
                for c in LEGACY_COLUMNS
                if "Tags/" not in c and "Category/" not in c
            ]
            tags = json.dumps(dict(_cur2_tags(row)), separators=(",", ":"))
            writer.writerow([*plain, tags, "{}"])
    return path


def replicate_table(table: pa.Table, rows: int) -> pa.Table:
    """The table repeated until it has `rows` rows (benchmarks)."""
    copies = -(-rows // table.num_rows)
    return pa.concat_tables([table] * copies).slice(0, rows)


def write_table_csv(table: pa.Table, path: Path) -> None:
    """An Arrow table as CSV (gzip for `.gz`), for large generated files."""
    sink = pa.output_stream(
        str(path), compression="gzip" if path.suffix == ".gz" else None
    )
    with sink:
        pcsv.write_csv(table, sink)
