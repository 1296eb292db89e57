"""Bytes become events, and events bytes, only here."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final, TypeVar

from pydantic import ValidationError

from finops.contracts.events import EVENT_ADAPTER, AllocationComputed, Event, NodeResult
from finops.domain.identifiers import describe_error
from finops.errors import EventDecodeError, SchemaVersionError

__all__ = [
    "CURRENT_VERSIONS",
    "UPCASTERS",
    "decode_accepted",
    "decode_event",
    "encode_event",
    "encode_with_node_rows",
]

# Latest schema version of each event type.
CURRENT_VERSIONS: Final[dict[str, int]] = {
    "graph_changed": 1,
    "node_costs_reported": 1,
    "usage_reported": 1,
    "cost_lines_normalized": 1,
    "row_rejected": 1,
    "allocation_computed": 2,
    "day_inputs_routed": 1,
    "budget_alert_changed": 1,
}


def _node_rows_as_arrays(payload: dict[str, Any]) -> dict[str, Any]:
    """allocation_computed 1 -> 2: node rows were objects, now arrays."""
    fields = NodeResult._fields
    nodes = [
        [row.get(name) for name in fields] if isinstance(row, dict) else row
        for row in payload.get("nodes", [])
    ]
    return {**payload, "schema_version": 2, "nodes": nodes}


# (type, from_version) -> function turning that payload into the next version's payload.
UPCASTERS: Final[dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]]] = {
    ("allocation_computed", 1): _node_rows_as_arrays,
}


def encode_event(event: Event) -> bytes:
    """JSON bytes of an event (aliases, so `from` stays `from`)."""
    return event.model_dump_json(by_alias=True).encode()


def encode_with_node_rows(event: AllocationComputed, rows: bytes) -> bytes:
    """encode_event of an AllocationComputed whose `nodes` are given already encoded
    (a JSON array of NodeResult arrays, as a busy date's are, in another process);
    the event's own `nodes` are left out."""
    head = event.model_dump_json(by_alias=True, exclude={"nodes"}).encode()
    return head[:-1] + b',"nodes":' + rows + b"}"


def decode_event(data: bytes) -> Event:
    """An event from bytes; old schema versions are upcast, unknown ones refused."""
    try:
        return EVENT_ADAPTER.validate_json(data)
    except ValidationError as first_error:
        payload = _load(data)
        return EVENT_ADAPTER.validate_python(_upcast(payload, first_error))


_E = TypeVar("_E")


def decode_accepted(value: bytes | None, accepts: tuple[type[_E], ...]) -> _E:
    """The event a message holds when it is one of `accepts`; EventDecodeError
    saying why (the reason a dead letter carries) for a tombstone, bytes that are
    no event, or an event of another type."""
    if value is None:
        raise EventDecodeError("empty message (a tombstone): no event")
    event = decode_event(value)
    if not isinstance(event, accepts):
        wanted = " or ".join(sorted(_type_name(kind) for kind in accepts))
        raise EventDecodeError(
            f"unexpected event type {event.type!r} (expected {wanted})"
        )
    return event


def _type_name(kind: type[Any]) -> str:
    """An event class's `type` value (the class name for anything else)."""
    field = getattr(kind, "model_fields", {}).get("type")
    return str(field.default) if field is not None else kind.__name__


def _load(data: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EventDecodeError(f"not JSON: {exc}") from exc
    if not isinstance(payload, dict) or "type" not in payload:
        raise EventDecodeError("an event is a JSON object with a 'type'")
    return payload


def _upcast(payload: dict[str, Any], error: ValidationError) -> dict[str, Any]:
    kind = payload["type"]
    latest = CURRENT_VERSIONS.get(kind)
    if latest is None:
        raise EventDecodeError(f"unknown event type {kind!r}")
    version = payload.get("schema_version", 1)
    if not isinstance(version, int) or version > latest or version < 1:
        raise SchemaVersionError(
            f"{kind} schema_version {version!r} is not readable here "
            f"(latest is {latest})"
        )
    if version == latest:
        problem = describe_error(error.errors()[0])
        raise EventDecodeError(f"invalid {kind}: {problem}") from error
    while version < latest:
        payload = UPCASTERS[(kind, version)](payload)
        version += 1
    return payload
