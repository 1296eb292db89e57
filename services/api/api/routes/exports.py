"""Exports as streamed CSV files."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.errors import ApiError
from api.params import WindowParams
from api.routes.common import ERRORS, READ, reader
from finops.adapters.exports import export_problem, stream_export

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
    "allocated",
]
_MEDIA = {
    "csv": "text/csv",
    "focus": "text/csv",
    "parquet": "application/vnd.apache.parquet",
}


@router.get(
    "/export",
    summary="An export streamed as PostgreSQL produces it (flat memory). `ledger`: "
    "every stored bill line as one FOCUS 1.3 file; `allocated` (or format `focus` "
    "of `allocated`, `products`, `ledger`): allocated costs as FOCUS 1.3 rows, one "
    "allocated charge per receiving node, summing to the origin charges; format "
    "`parquet`: any export as Parquet (money decimal(24, 6)).",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "text/csv": {},
                "application/vnd.apache.parquet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            }
        }
    },
)
async def export(
    request: Request,
    window: WindowParams,
    type: Annotated[ExportType, Query(description="What to export.")],
    format: Annotated[Literal["csv", "parquet", "focus"], Query()] = "csv",
) -> StreamingResponse:
    problem = export_problem(type, format)
    if problem:
        raise ApiError(422, "invalid_request", f"query.format: {problem}")
    suffix = {"focus": "csv"}.get(format, format)
    name = f"{type}_{window.start}_{window.end}.{suffix}"
    chunks = stream_export(
        reader(request).pool,
        type,
        window.start,
        window.end,
        window.dimensions,
        format,
    )
    return StreamingResponse(
        chunks,
        media_type=_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
