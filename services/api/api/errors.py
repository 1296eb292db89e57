"""The API's error answers: {"error": {code, message, details}}, 4xx for input."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from finops.domain.actions import InvalidTransition
from finops.errors import GraphError, InputError

__all__ = ["ApiError", "NotFoundError", "add_error_handlers", "error_body"]

_log = logging.getLogger(__name__)


class ApiError(Exception):
    """An answer other than 2xx, with a code a client can test."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or {}


class NotFoundError(ApiError):
    """Something named in the request does not exist."""

    def __init__(self, what: str, name: str) -> None:
        super().__init__(404, "not_found", f"no {what} {name!r}", {what: name})


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The error envelope."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


def add_error_handlers(app: FastAPI) -> None:
    """Every error the API gives, in the envelope; never a 500 for bad input."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(GraphError, _graph_error)
    app.add_exception_handler(InvalidTransition, _conflict)
    app.add_exception_handler(asyncpg.QueryCanceledError, _too_long)
    app.add_exception_handler(Exception, _unexpected)


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(error_body(exc.code, exc.message, exc.details), exc.status)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {
            "field": ".".join(str(p) for p in e.get("loc", ())),
            "problem": str(e.get("msg", "")),
        }
        for e in exc.errors()
    ]
    first = problems[0] if problems else {"field": "?", "problem": "invalid"}
    message = f"{first['field']}: {first['problem']}"
    return JSONResponse(
        error_body("invalid_request", message, {"problems": problems}), 422
    )


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
    return JSONResponse(
        error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers
    )


async def _input_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InputError)
    where = {"file": exc.file, "line": exc.line, "field": exc.field}
    details = {k: v for k, v in where.items() if v is not None}
    return JSONResponse(error_body("invalid_request", str(exc), details), 422)


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(error_body("conflict", str(exc)), 409)


async def _graph_error(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(error_body("invalid_graph", str(exc)), 422)


async def _too_long(_: Request, exc: Exception) -> JSONResponse:
    message = "the query ran past its time limit; ask for a shorter window"
    return JSONResponse(error_body("query_timeout", message), 503)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    _log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse(error_body("internal", "internal error; see the logs"), 500)
