"""Error types shared by every layer; messages name the file, line, field or id."""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "EventDecodeError",
    "FinopsError",
    "GraphError",
    "InputError",
    "MoneyRangeError",
    "PermissionDeniedError",
    "ProviderFetchError",
    "SchemaVersionError",
    "StackError",
    "StoreConflictError",
]


class FinopsError(Exception):
    """Base of every error this project raises on purpose."""


class InputError(FinopsError):
    """Bad input data; the message says where (file, line, field)."""

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.field = field
        super().__init__(self._format())

    def _format(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p is not None)
        field = f" field {self.field!r}:" if self.field else ""
        prefix = f"{where}:" if where else ""
        return f"{prefix}{field} {self.reason}".strip()


class MoneyRangeError(InputError):
    """Amounts beyond the supported range (see finops.domain.money); never wrapped."""


class GraphError(FinopsError):
    """An invalid cost graph: cycle, unknown node, bad strategy or parameter."""


class ConfigError(FinopsError):
    """Invalid settings or configuration file."""


class EventDecodeError(FinopsError):
    """Bytes on a topic that are not a valid event."""


class SchemaVersionError(EventDecodeError):
    """An event payload with a schema version this code cannot read."""


class StackError(FinopsError):
    """The local development stack could not be started or stopped."""


class ProviderFetchError(FinopsError):
    """A billing provider or remote source could not be read."""


class StoreConflictError(FinopsError):
    """A write conflicted with what the store already holds."""


class AuthenticationError(FinopsError):
    """No valid token: missing, malformed, unknown, revoked or expired (HTTP 401)."""


class PermissionDeniedError(FinopsError):
    """A valid token without the scope an action needs (HTTP 403)."""
