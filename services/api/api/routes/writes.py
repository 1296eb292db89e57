"""What the write routes share: the request body (bounded), who is asking, the
writable pool and a lock serialising graph applies within this process."""

from __future__ import annotations

from typing import Annotated, Any, Final

import asyncpg
from fastapi import Depends, Request

from api.errors import ApiError
from finops.adapters.http_auth import require
from finops.domain.access import Scope, TokenRecord

__all__ = ["Admin", "actor", "body_schema", "body_text", "is_yaml", "writer"]

Admin = Annotated[TokenRecord | None, Depends(require(Scope.ADMIN))]

_YAML_TYPES: Final = ("yaml", "text/plain")


def body_schema(description: str) -> dict[str, Any]:
    """The OpenAPI request body of a route taking a YAML or JSON document."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }


async def body_text(request: Request) -> str:
    """The body as text: 413 beyond API_MAX_BODY_BYTES, 422 when empty or not UTF-8."""
    limit: int = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise ApiError(422, "invalid_request", "body: empty; send a YAML or JSON file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            422, "invalid_request", f"body: not UTF-8 text (byte {exc.start})"
        ) from None


def is_yaml(request: Request, text: str) -> bool:
    """YAML when the content type says so or the text does not start as JSON."""
    kind = request.headers.get("content-type", "").lower()
    if any(t in kind for t in _YAML_TYPES):
        return True
    return not text.lstrip().startswith(("{", "["))


def actor(token: TokenRecord | None) -> str:
    """Who acts, for audit trails: the token's name (open mode: `api`)."""
    return f"api:{token.name}" if token is not None else "api"


def writer(request: Request) -> asyncpg.Pool:
    """The service's writable pool (the query pool is read-only)."""
    pool: asyncpg.Pool = request.app.state.connections.pool
    return pool


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413, "too_large", f"body: more than {limit} bytes", {"limit": limit}
    )
