"""API tokens in PostgreSQL (`api_tokens`): created, verified, listed, revoked."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from finops.domain.access import (
    IssuedToken,
    Scope,
    TokenRecord,
    allows,
    digest_matches,
    issue_token,
    parse_token,
)
from finops.errors import AuthenticationError, InputError, PermissionDeniedError

__all__ = ["Executor", "TokenStore"]

_INSERT: Final = """
INSERT INTO api_tokens (token_id, name, scopes, secret_sha256, expires_at)
VALUES ($1, $2, $3, $4, $5)
RETURNING token_id, name, scopes, created_at, expires_at, revoked_at, last_used_at"""
_COLUMNS: Final = (
    "token_id, name, scopes, created_at, expires_at, revoked_at, last_used_at"
)
_FIND: Final = f"SELECT {_COLUMNS}, secret_sha256 FROM api_tokens WHERE token_id = $1"
_LIST: Final = f"SELECT {_COLUMNS} FROM api_tokens ORDER BY created_at, token_id"
_REVOKE: Final = """
UPDATE api_tokens SET revoked_at = now()
WHERE token_id = $1 AND revoked_at IS NULL RETURNING token_id"""
_USED: Final = "UPDATE api_tokens SET last_used_at = now() WHERE token_id = $1"

Clock = Callable[[], datetime]


class Executor(Protocol):
    """An asyncpg pool or connection."""

    async def fetchrow(self, query: str, *args: Any) -> Any: ...

    async def fetch(self, query: str, *args: Any) -> list[Any]: ...

    async def execute(self, query: str, *args: Any) -> str: ...


class TokenStore:
    """Tokens stored hashed; verified ones are trusted for `cache_s` seconds."""

    def __init__(
        self,
        db: Executor,
        *,
        cache_s: float = 5.0,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self._db, self._cache_s, self._clock = db, cache_s, clock
        self._verified: dict[str, tuple[float, TokenRecord]] = {}

    async def create(
        self,
        name: str,
        scopes: Iterable[Scope],
        *,
        expires_at: datetime | None = None,
    ) -> tuple[IssuedToken, TokenRecord]:
        """A new token; its text is returned once and never stored."""
        wanted = sorted(set(scopes))
        if not name.strip():
            raise InputError("a token needs a name", field="name")
        if not wanted:
            raise InputError("a token needs at least one scope", field="scopes")
        issued = issue_token()
        row = await self._db.fetchrow(
            _INSERT, issued.token_id, name, wanted, issued.digest, expires_at
        )
        return issued, _record(row)

    async def verify(self, text: str, needed: Scope) -> TokenRecord:
        """The token's record if it is valid and allows `needed`."""
        record = await self._valid(text)
        if not allows(record.scopes, needed):
            held = ", ".join(sorted(record.scopes))
            raise PermissionDeniedError(
                f"token {record.token_id} has scopes [{held}]; this needs {needed}"
            )
        return record

    async def revoke(self, token_id: str) -> bool:
        """Revoke a token; False if unknown or revoked already."""
        self._verified.pop(token_id, None)
        return await self._db.fetchrow(_REVOKE, token_id) is not None

    async def tokens(self) -> list[TokenRecord]:
        """Every token, oldest first (secrets are never read back)."""
        return [_record(row) for row in await self._db.fetch(_LIST)]

    async def _valid(self, text: str) -> TokenRecord:
        token_id, secret = parse_token(text)
        cached = self._verified.get(token_id)
        if cached is not None and time.monotonic() - cached[0] < self._cache_s:
            return cached[1]
        row = await self._db.fetchrow(_FIND, token_id)
        if row is None or not digest_matches(secret, row["secret_sha256"]):
            raise AuthenticationError("unknown token")
        record = _record(row)
        if not record.is_valid(self._clock()):
            raise AuthenticationError(f"token {token_id} is revoked or expired")
        await self._db.execute(_USED, token_id)
        self._verified[token_id] = (time.monotonic(), record)
        return record


def _record(row: Any) -> TokenRecord:
    return TokenRecord(
        token_id=row["token_id"],
        name=row["name"],
        scopes=frozenset(Scope(s) for s in row["scopes"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )
