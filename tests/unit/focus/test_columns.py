"""FOCUS 1.0 to 1.3 column names resolve to one set of fields."""

from __future__ import annotations

import pytest

from finops.domain.focus.columns import detect_version, resolve_columns
from finops.errors import InputError

BASE = ("BilledCost", "BillingPeriodStart", "ChargePeriodStart", "ChargePeriodEnd")


@pytest.mark.parametrize(
    ("extra", "version"),
    [
        (("ProviderName", "PublisherName"), "1.0"),
        (("ProviderName", "ServiceSubcategory", "SkuMeter"), "1.1"),
        (("ProviderName", "InvoiceId", "BillingAccountType"), "1.2"),
        (("ServiceProviderName", "HostProviderName"), "1.3"),
    ],
)
def test_each_focus_version_is_recognised(extra: tuple[str, ...], version: str) -> None:
    assert detect_version(BASE + extra) == version


def test_focus_1_3_provider_names_replace_the_deprecated_ones() -> None:
    columns = resolve_columns(
        (*BASE, "ServiceProviderName", "HostProviderName"), file="f"
    )
    assert columns.columns["provider"] == "ServiceProviderName"
    assert columns.columns["publisher"] == "HostProviderName"
    assert columns.column_for("ProviderName") == "ServiceProviderName"
    assert columns.column_for("PublisherName") == "HostProviderName"


def test_the_new_name_wins_when_a_file_carries_both() -> None:
    header = (*BASE, "ProviderName", "ServiceProviderName")
    assert (
        resolve_columns(header, file="f").columns["provider"] == "ServiceProviderName"
    )


def test_older_names_resolve_from_new_rule_names() -> None:
    columns = resolve_columns((*BASE, "ProviderName"), file="f")
    assert columns.column_for("ServiceProviderName") == "ProviderName"


def test_unknown_layout_names_the_missing_columns() -> None:
    with pytest.raises(InputError) as caught:
        resolve_columns(("Cost", "ChargePeriodStart"), file="bill.csv")
    message = str(caught.value)
    assert message.startswith("bill.csv:")
    assert "ServiceProviderName/ProviderName" in message
    assert "BilledCost" in message
    assert "ChargePeriodEnd" in message


def test_a_cost_column_chosen_by_the_rules_is_required() -> None:
    with pytest.raises(InputError, match="EffectiveCost"):
        resolve_columns((*BASE, "ProviderName"), file="f", required=("EffectiveCost",))
