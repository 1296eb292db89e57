"""Signatures checked by the independent `standardwebhooks` package; the three payload
formats against the JSON Schema and the clouds' recorded bodies; the retry schedule;
the action lifecycle."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from finops.contracts.events import BudgetAlertChanged
from finops.domain.actions import (
    ActionEvent,
    ActionState,
    InvalidTransition,
    next_state,
)
from finops.domain.budgets import PayloadFormat
from governance.webhooks.payloads import alert_body
from governance.webhooks.schedule import BACKOFF_S, MAX_ATTEMPTS, next_wait_s
from governance.webhooks.signing import signed_headers

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "governance"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _alert(status: str = "alert", basis: str = "actual") -> BudgetAlertChanged:
    return BudgetAlertChanged(
        event_id=uuid.uuid4(),
        occurred_at=datetime(2026, 11, 17, 16, 0, tzinfo=UTC),
        alert_id=uuid.UUID(int=42),
        status=status,  # type: ignore[arg-type]
        budget_id="azure-lab",
        budget_name="Azure lab",
        scope={"filter": {"ServiceProviderName": "Microsoft", "Tags.env": "dev"}},
        threshold_percent=Decimal(80),
        basis=basis,  # type: ignore[arg-type]
        period_start=date(2026, 11, 1),
        period_end=date(2026, 12, 1),
        spent_micros=810_000,
        forecast_micros=1_400_000,
        budget_micros=1_000_000,
        as_of=date(2026, 11, 17),
    )


def test_signatures_verify_with_the_standard_webhooks_package() -> None:
    body = alert_body(_alert(), PayloadFormat.NATIVE)
    now = int(datetime.now(UTC).timestamp())
    headers = signed_headers(SECRET, "msg_abc", now, body)
    assert headers["webhook-signature"].startswith("v1,")
    Webhook(SECRET).verify(body, headers)  # raises if wrong
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body + b" ", headers)
    other = "whsec_" + "A" * 32
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)


def test_native_bodies_follow_the_published_json_schema() -> None:
    schema = json.loads(
        (ROOT / "docs" / "schemas" / "budget-alert.schema.json").read_text()
    )
    validator = jsonschema_rs.validator_for(schema)
    for status in ("alert", "resolved"):
        body = json.loads(alert_body(_alert(status), PayloadFormat.NATIVE))
        validator.validate(body)
        assert body["type"] == f"budget.{status}"
        assert body["spent"] == "0.810000" and body["budget"]["amount"] == "1.000000"
        assert body["threshold_percent"] == "80" and body["currency"] == "USD"
    broken = json.loads(alert_body(_alert(), PayloadFormat.NATIVE)) | {"spent": 0.81}
    assert not validator.is_valid(broken)


def _shape(value: Any) -> Any:
    """Keys and value types, recursively (numbers as one type)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    return "number" if isinstance(value, (int, float)) else type(value).__name__


def test_gcp_budget_bodies_have_google_s_shape() -> None:
    recorded = json.loads((DATA / "gcp-budget-notification.json").read_text())
    ours = json.loads(alert_body(_alert(), PayloadFormat.GCP_BUDGET))
    assert _shape(ours) == _shape(recorded)
    assert ours["alertThresholdExceeded"] == 0.8 and ours["costAmount"] == 0.81
    assert ours["costIntervalStart"] == "2026-11-01T00:00:00Z"
    forecast = json.loads(
        alert_body(_alert(basis="forecast"), PayloadFormat.GCP_BUDGET)
    )
    assert forecast["forecastThresholdExceeded"] == 0.8
    assert "alertThresholdExceeded" not in forecast
    resolved = json.loads(alert_body(_alert("resolved"), PayloadFormat.GCP_BUDGET))
    assert "alertThresholdExceeded" not in resolved  # Google omits it under thresholds


def test_azure_budget_bodies_have_azure_monitor_s_shape() -> None:
    recorded = json.loads((DATA / "azure-cost-budget-alert.json").read_text())
    ours = json.loads(alert_body(_alert(), PayloadFormat.AZURE_BUDGET))
    # same keys at every level; Azure's nulls are nulls in ours too, bar the condition
    assert _keys(ours) == _keys(recorded)
    data = ours["data"]["alertContext"]["AlertData"]
    assert data["ThresholdType"] == "Actual" and data["SpentAmount"] == "$0.81"
    assert data["BudgetThreshold"] == "$1.00"
    assert data["NotificationThresholdAmount"] == "$0.80"
    assert ours["data"]["essentials"]["monitoringService"] == "CostAlerts"
    forecast = json.loads(
        alert_body(_alert(basis="forecast"), PayloadFormat.AZURE_BUDGET)
    )
    assert (
        forecast["data"]["alertContext"]["AlertData"]["ThresholdType"] == "Forecasted"
    )


def _keys(value: Any, prefix: str = "") -> set[str]:
    if not isinstance(value, dict):
        return set()
    out = set()
    for key, inner in value.items():
        out.add(prefix + key)
        out |= _keys(inner, f"{prefix}{key}.")
    return out


def test_the_retry_schedule_backs_off_with_jitter_for_about_a_day() -> None:
    rng = random.Random(7)
    waits = [next_wait_s(n, rng=rng) for n in range(1, MAX_ATTEMPTS)]
    assert all(w is not None for w in waits)
    for wait, base in zip(waits, BACKOFF_S, strict=True):
        assert wait is not None and 0.8 * base <= wait <= 1.2 * base
    assert 0.8 * 86_400 < sum(BACKOFF_S) < 1.05 * 86_400
    assert next_wait_s(MAX_ATTEMPTS) is None
    assert next_wait_s(1, retry_after_s=120, rng=rng) == 120  # longer: honoured
    assert next_wait_s(1, retry_after_s=10**9, rng=rng) == 86_400  # capped at a day
    short = next_wait_s(3, retry_after_s=1, rng=rng)
    assert short is not None and short >= 0.8 * BACKOFF_S[2]  # shorter: back-off wins


def test_the_action_lifecycle() -> None:
    s, e = ActionState, ActionEvent
    manual = next_state(s.STANDBY, e.TRIGGERED_MANUAL)
    assert manual is s.PENDING_APPROVAL
    assert next_state(manual, e.APPROVED) is s.EXECUTING
    assert next_state(s.STANDBY, e.TRIGGERED_AUTOMATIC) is s.EXECUTING
    assert next_state(s.EXECUTING, e.EXECUTOR_SUCCEEDED) is s.SUCCEEDED
    assert next_state(s.EXECUTING, e.EXECUTOR_FAILED) is s.FAILED
    assert next_state(s.SUCCEEDED, e.REVERSE_REQUESTED) is s.REVERSING
    assert next_state(s.REVERSING, e.EXECUTOR_SUCCEEDED) is s.REVERSED
    with pytest.raises(
        InvalidTransition, match="a run that is executing cannot take 'approved'"
    ):
        next_state(s.EXECUTING, e.APPROVED)
    with pytest.raises(InvalidTransition, match="possible now: nothing"):
        next_state(s.REVERSED, e.REVERSE_REQUESTED)
