"""What routes share: the reader, answers kept per data version, the read scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from fastapi import Depends, Request, Response

from api.queries.base import Reader
from finops.adapters.http_auth import require
from finops.domain.access import Scope

__all__ = ["ADMIN", "ERRORS", "READ", "cached", "reader"]

READ: Final = [Depends(require(Scope.READ))]
ADMIN: Final = [Depends(require(Scope.ADMIN))]
_ERROR = {"description": 'The error envelope: {"error": {code, message, details}}'}
ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: _ERROR,
    403: _ERROR,
    422: _ERROR,
}


def reader(request: Request) -> Reader:
    """The read-only query pool."""
    db: Reader = request.app.state.reader
    return db


async def cached(
    request: Request, produce: Callable[[Reader], Awaitable[Any]]
) -> Response:
    """The answer at the current data version, with its ETag."""
    db = reader(request)
    version = await db.data_version()
    answers = request.app.state.answers
    response: Response = await answers.answer(request, version, lambda: produce(db))
    return response
