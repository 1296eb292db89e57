"""Alert bodies in three formats: ours (`native`, see
docs/schemas/budget-alert.schema.json), Google Cloud's budget notification and Azure
Monitor's common alert schema for cost budgets, so receivers written for the clouds'
own budgets work unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from finops.contracts.events import BudgetAlertChanged
from finops.domain.budgets import PayloadFormat
from finops.domain.money import from_micros

__all__ = ["alert_body", "event_type"]


def event_type(alert: BudgetAlertChanged) -> str:
    return "budget.alert" if alert.status == "alert" else "budget.resolved"


def alert_body(alert: BudgetAlertChanged, fmt: PayloadFormat) -> bytes:
    """The exact bytes sent (compact JSON)."""
    builders = {
        PayloadFormat.NATIVE: _native,
        PayloadFormat.GCP_BUDGET: _gcp,
        PayloadFormat.AZURE_BUDGET: _azure,
    }
    body = builders[fmt](alert)
    return json.dumps(body, separators=(",", ":"), sort_keys=False).encode()


def _money(micros: int) -> str:
    return f"{from_micros(micros):.6f}"


def _native(alert: BudgetAlertChanged) -> dict[str, Any]:
    return {
        "type": event_type(alert),
        "alert_id": str(alert.alert_id),
        "status": alert.status,
        "budget": {
            "id": alert.budget_id,
            "name": alert.budget_name,
            "amount": _money(alert.budget_micros),
            "scope": alert.scope,
        },
        "threshold_percent": str(alert.threshold_percent),
        "basis": alert.basis,
        "period_start": alert.period_start.isoformat(),
        "period_end": alert.period_end.isoformat(),
        "as_of": alert.as_of.isoformat(),
        "spent": _money(alert.spent_micros),
        "forecast": _money(alert.forecast_micros),
        "currency": alert.currency,
        "occurred_at": alert.occurred_at.isoformat(),
    }


def _number(micros: int) -> float:
    """A JSON number as Google sends (costs are floats in its notifications)."""
    return float(from_micros(micros))


def _gcp(alert: BudgetAlertChanged) -> dict[str, Any]:
    fraction = float(alert.threshold_percent / Decimal(100))
    body: dict[str, Any] = {
        "budgetDisplayName": alert.budget_name,
        "costAmount": _number(alert.spent_micros),
        "costIntervalStart": datetime.combine(alert.period_start, time(), UTC)
        .isoformat()
        .replace("+00:00", "Z"),
        "budgetAmount": _number(alert.budget_micros),
        "budgetAmountType": "SPECIFIED_AMOUNT",
        "currencyCode": alert.currency,
    }
    if alert.status == "alert":
        key = (
            "alertThresholdExceeded"
            if alert.basis == "actual"
            else "forecastThresholdExceeded"
        )
        body[key] = fraction
    return body


def _azure_amount(micros: int, currency: str) -> str:
    return (
        f"{from_micros(micros):,.2f}"
        if currency != "USD"
        else f"${from_micros(micros):,.2f}"
    )


def _azure(alert: BudgetAlertChanged) -> dict[str, Any]:
    threshold_micros = int(alert.budget_micros * alert.threshold_percent / 100)
    spent = _azure_amount(alert.spent_micros, alert.currency)
    notify_at = _azure_amount(threshold_micros, alert.currency)
    return {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": {
                "monitoringService": "CostAlerts",
                "firedDateTime": alert.occurred_at.isoformat().replace("+00:00", "Z"),
                "description": (
                    f"Your spend for budget {alert.budget_name} is now {spent} "
                    f"exceeding your specified threshold {notify_at}."
                ),
                "essentialsVersion": "1.0",
                "alertContextVersion": "1.0",
                "alertId": f"/finops/budgets/{alert.budget_id}/alerts/{alert.alert_id}",
                "alertRule": None,
                "severity": None,
                "signalType": None,
                "monitorCondition": "Fired" if alert.status == "alert" else "Resolved",
                "alertTargetIDs": None,
                "configurationItems": ["budgets"],
                "originAlertId": None,
            },
            "alertContext": {
                "AlertCategory": "budgets",
                "AlertData": {
                    "Scope": f"/finops/budgets/{alert.budget_id}",
                    "ThresholdType": "Actual"
                    if alert.basis == "actual"
                    else "Forecasted",
                    "BudgetType": "Cost",
                    "BudgetThreshold": _azure_amount(
                        alert.budget_micros, alert.currency
                    ),
                    "NotificationThresholdAmount": notify_at,
                    "BudgetName": alert.budget_name,
                    "BudgetId": f"/finops/budgets/{alert.budget_id}",
                    "BudgetStartDate": alert.period_start.isoformat(),
                    "BudgetCreator": "finops",
                    "Unit": alert.currency,
                    "SpentAmount": spent,
                },
            },
        },
    }
