"""Kafka security settings: what a production deployment sets (SASL over TLS) becomes
the options of every aiokafka client and Faust's credentials; every client the
services build passes them."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import pytest

from finops.contracts.settings import KafkaSettings

ROOT = Path(__file__).resolve().parents[3]
CLIENTS = re.compile(r"AIOKafka(?:Consumer|Producer|AdminClient)\(")


def test_plaintext_by_default() -> None:
    assert KafkaSettings().client_options() == {"security_protocol": "PLAINTEXT"}


def test_sasl_over_tls_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "finops-allocator")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    kafka = KafkaSettings()
    options = kafka.client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "finops-allocator"
    assert options["sasl_plain_password"] == "s3cret"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert "s3cret" not in repr(kafka)  # never in a log line


def test_every_kafka_client_of_the_services_gets_the_security_options() -> None:
    missing = []
    for folder in ("shared/finops", "services"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            for match in CLIENTS.finditer(text):
                call = text[match.end() : text.find("\n    )", match.end())]
                if "client_options()" not in call and "security" not in call:
                    function = text[: match.start()].rsplit("def ", 1)[-1]
                    missing.append(f"{path.relative_to(ROOT)}:{function[:6]}")
    # The dev stack's readiness probe talks to the local plaintext broker only.
    assert missing == ["shared/finops/adapters/kafka_admin.py:_probe"]
