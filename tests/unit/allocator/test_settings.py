"""The allocator's settings: its group instance id (static membership), its
freshness target."""

from __future__ import annotations

import socket

import pytest
from pydantic import ValidationError

from allocator.settings import AllocatorSettings


def test_instance_id_defaults_to_host_and_http_port() -> None:
    settings = AllocatorSettings(http_port=8123)
    assert settings.instance_id() == f"{socket.gethostname()}-8123"


def test_an_explicit_instance_id_wins() -> None:
    settings = AllocatorSettings(group_instance_id="allocator-0")
    assert settings.instance_id() == "allocator-0"


def test_dynamic_membership_has_no_instance_id() -> None:
    assert AllocatorSettings(static_membership=False).instance_id() is None


def test_the_freshness_target_is_read_from_the_environment_and_never_negative(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert AllocatorSettings().freshness_target_s == 0.9
    monkeypatch.setenv("ALLOCATOR_FRESHNESS_TARGET_S", "0")
    assert AllocatorSettings().freshness_target_s == 0.0
    monkeypatch.setenv("ALLOCATOR_FRESHNESS_TARGET_S", "-1")
    with pytest.raises(ValidationError, match="freshness_target_s"):
        AllocatorSettings()


def test_group_days_default_to_each_date_alone_and_stay_within_a_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from allocator.compute.group import MAX_GROUP_DAYS

    assert AllocatorSettings().group_days == 1  # each date on its own engine
    monkeypatch.setenv("ALLOCATOR_GROUP_DAYS", str(MAX_GROUP_DAYS))
    assert AllocatorSettings().group_days == MAX_GROUP_DAYS
    for bad in ("0", str(MAX_GROUP_DAYS + 1)):
        monkeypatch.setenv("ALLOCATOR_GROUP_DAYS", bad)
        with pytest.raises(ValidationError, match="group_days"):
            AllocatorSettings()
