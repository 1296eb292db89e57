"""Bearer tokens on a service's routes: `Depends(require(Scope.READ))`.

Errors follow the API's convention, `{"error": {"code", "message", "details"}}`:
401 with `WWW-Authenticate: Bearer` when the token is missing or not valid, 403 when
it lacks the scope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Final

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from finops.adapters.token_store import TokenStore
from finops.contracts.settings import AuthSettings
from finops.domain.access import Scope, TokenRecord
from finops.errors import AuthenticationError, PermissionDeniedError

__all__ = ["TokenGuard", "add_auth", "require"]

_BEARER: Final = HTTPBearer(auto_error=False, description="An API token: fin_<id>_…")


class TokenGuard:
    """Checks a request's bearer token (or none, in `open` mode)."""

    def __init__(self, store: TokenStore | None, settings: AuthSettings) -> None:
        if store is None and settings.mode == "required":
            raise ValueError("a token store is needed when auth is required")
        self._store, self._open = store, settings.mode == "open"

    async def check(
        self, credentials: HTTPAuthorizationCredentials | None, needed: Scope
    ) -> TokenRecord | None:
        """The token's record; None in open mode."""
        if self._open:
            return None
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise AuthenticationError("missing bearer token (Authorization: Bearer …)")
        assert self._store is not None
        return await self._store.verify(credentials.credentials, needed)


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]


def require(needed: Scope) -> Callable[..., Awaitable[TokenRecord | None]]:
    """A FastAPI dependency: the request's token must allow `needed`."""

    async def dependency(
        request: Request, credentials: Credentials
    ) -> TokenRecord | None:
        guard: TokenGuard = request.app.state.token_guard
        return await guard.check(credentials, needed)

    return dependency


def add_auth(app: FastAPI, guard: TokenGuard) -> None:
    """Install the guard and the 401/403 error responses on an app."""
    app.state.token_guard = guard
    app.add_exception_handler(AuthenticationError, _unauthorized)
    app.add_exception_handler(PermissionDeniedError, _forbidden)


async def _unauthorized(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        _error("unauthorized", str(exc)),
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _forbidden(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(_error("forbidden", str(exc)), status_code=403)


def _error(code: str, message: str) -> dict[str, dict[str, object]]:
    return {"error": {"code": code, "message": message, "details": {}}}
