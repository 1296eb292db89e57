"""Ingest status: deliveries (runs) and the rows each refused (admin)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from api.answers import json_answer
from api.errors import NotFoundError
from api.params import PageParams
from api.queries import governance as queries
from api.routes.common import ADMIN, ERRORS, reader

router = APIRouter(prefix="/v1", tags=["ingest"], dependencies=ADMIN, responses=ERRORS)


@router.get(
    "/ingest/runs",
    summary="Ingest deliveries, newest first: file, format, status, rows read, "
    "accepted and rejected, totals per provider, billing periods.",
)
async def runs(
    request: Request,
    page: PageParams,
    status: Annotated[Literal["succeeded", "refused", "failed"] | None, Query()] = None,
) -> Response:
    body = await queries.ingest_runs(reader(request), page, status=status)
    return json_answer(request, body)


@router.get(
    "/ingest/runs/{ingest_id}",
    summary="One ingest delivery.",
    responses={404: ERRORS[422]},
)
async def run(request: Request, ingest_id: uuid.UUID) -> Response:
    body = await queries.ingest_run(reader(request), ingest_id)
    if body is None:
        raise NotFoundError("ingest run", str(ingest_id))
    return json_answer(request, body)


@router.get(
    "/ingest/runs/{ingest_id}/rejects",
    summary="The rows a delivery refused: file, line (the header is line 1), reason.",
    responses={404: ERRORS[422]},
)
async def rejects(request: Request, ingest_id: uuid.UUID, page: PageParams) -> Response:
    body = await queries.ingest_rejects(reader(request), ingest_id, page)
    if body is None:
        raise NotFoundError("ingest run", str(ingest_id))
    return json_answer(request, body)
