"""Exports as streamed CSV files."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.errors import ApiError
from api.params import WindowParams
from api.routes.common import ERRORS, READ, reader
from finops.adapters.exports import EXPORTS, stream_export

router = APIRouter(prefix="/v1", tags=["exports"], dependencies=READ, responses=ERRORS)

ExportType = Literal[
    "nodes",
    "flows",
    "products",
    "by-type",
    "by-provider",
    "cost-lines",
    "usage",
    "ledger",
]


@router.get(
    "/export",
    summary="A CSV export streamed as PostgreSQL produces it (flat memory). `ledger`: "
    "every stored bill line as one FOCUS 1.3 file.",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export(
    request: Request,
    window: WindowParams,
    type: Annotated[ExportType, Query(description="What to export.")],
    format: Annotated[Literal["csv"], Query()] = "csv",
) -> StreamingResponse:
    if type not in EXPORTS:
        raise ApiError(422, "invalid_request", f"query.type: unknown export {type!r}")
    name = f"{type}_{window.start}_{window.end}.{format}"
    chunks = stream_export(
        reader(request).pool, type, window.start, window.end, window.dimensions
    )
    return StreamingResponse(
        chunks,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
