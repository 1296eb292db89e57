"""The allocator's group instance id (static membership)."""

from __future__ import annotations

import socket

from allocator.settings import AllocatorSettings


def test_instance_id_defaults_to_host_and_http_port() -> None:
    settings = AllocatorSettings(http_port=8123)
    assert settings.instance_id() == f"{socket.gethostname()}-8123"


def test_an_explicit_instance_id_wins() -> None:
    settings = AllocatorSettings(group_instance_id="allocator-0")
    assert settings.instance_id() == "allocator-0"


def test_dynamic_membership_has_no_instance_id() -> None:
    assert AllocatorSettings(static_membership=False).instance_id() is None
