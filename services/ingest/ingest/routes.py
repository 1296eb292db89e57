"""HTTP routes: uploads, rules, runs, rejects, lines and tracing. Thin by design."""

from __future__ import annotations

import csv
import io
import time
from datetime import date
from typing import Annotated, Final
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from finops.adapters.http_auth import require
from finops.domain.access import Scope
from finops.errors import ConfigError, InputError
from ingest.formats import IngestFormat, sniff_format
from ingest.limits import BodyTooLargeError, InputLimits
from ingest.metrics import observe_delivery
from ingest.models import Delivery, IngestResult, RejectRow, TracedLine
from ingest.service import IngestService
from ingest.uploads import remove_spooled, safe_file_name, spool

__all__ = ["router"]

# Query bounds: a bad value is a 422 naming the parameter, never a 500.
MAX_NAME: Final = 255  # a file name longer than this cannot be spooled
MAX_LIMIT: Final = 10_000
NO_CONTROL_CHARACTERS: Final = r"^[^\x00-\x1f\x7f]*$"

router = APIRouter()
# Bearer tokens (finops tokens create): `ingest` delivers files and reads what its
# deliveries did; `admin` (which includes the others) changes rules; `read` traces.
_DELIVER: Final = [Depends(require(Scope.INGEST))]
_MANAGE: Final = [Depends(require(Scope.ADMIN))]
_READ: Final = [Depends(require(Scope.READ))]


def _service(request: Request) -> IngestService:
    service: IngestService = request.app.state.service
    return service


@router.put(
    "/rules",
    summary="Keep a mapping-rules YAML; returns its id.",
    dependencies=_MANAGE,
)
async def put_rules(request: Request) -> dict[str, str]:
    try:
        rules_id = await _service(request).save_rules((await request.body()).decode())
    except (ConfigError, UnicodeDecodeError) as exc:
        raise HTTPException(422, str(exc)) from None
    return {"rules_id": rules_id}


@router.post(
    "/ingests",
    summary="Ingest the request body (a file), streamed to disk.",
    response_model=IngestResult,
    status_code=201,
    dependencies=_DELIVER,
)
async def post_ingest(
    request: Request,
    response: Response,
    filename: Annotated[
        str,
        Query(
            description="The file's name (suffix matters).",
            min_length=1,
            max_length=MAX_NAME,
            pattern=NO_CONTROL_CHARACTERS,
        ),
    ],
    format: Annotated[
        str, Query(description="focus, cur, node-costs, usage or auto")
    ] = "auto",
    source: Annotated[
        str | None,
        Query(
            description="Who states these figures (default for node costs and"
            " usage: the file name as sent, folders included).",
            max_length=MAX_NAME,
            pattern=NO_CONTROL_CHARACTERS,
        ),
    ] = None,
    rules: Annotated[str | None, Query(description="Rules id from PUT /rules.")] = None,
    profile: str | None = None,
) -> IngestResult:
    started = time.perf_counter()
    limits: InputLimits = request.app.state.limits
    try:
        spooled = await spool(
            request.stream(),
            request.app.state.spool_dir,
            filename,
            max_bytes=limits.max_body_bytes,
        )
    except BodyTooLargeError as exc:
        raise HTTPException(413, str(exc)) from None
    try:
        fmt = IngestFormat(format) if format != "auto" else sniff_format(spooled.path)
        delivery = Delivery(
            path=spooled.path,
            file_name=safe_file_name(filename),
            fmt=fmt,
            content_hash=spooled.content_hash,
            source=source,
            rules_id=rules,
            profile=profile,
            sent_name=filename,
        )
        result = await _service(request).ingest(delivery)
    except (ValueError, InputError) as exc:
        raise HTTPException(422, str(exc)) from None
    finally:
        remove_spooled(spooled)
    observe_delivery(result, time.perf_counter() - started)
    response.status_code = (
        422 if result.status == "refused" else (200 if result.duplicate else 201)
    )
    return result


@router.get(
    "/ingests/{ingest_id}",
    summary="One ingest run.",
    response_model=IngestResult,
    dependencies=_DELIVER,
)
async def get_ingest(request: Request, ingest_id: UUID) -> IngestResult:
    found = await _service(request).get(ingest_id)
    if found is None:
        raise HTTPException(404, f"no ingest {ingest_id}")
    return found


@router.get(
    "/ingests/{ingest_id}/rejects",
    summary="Refused rows (JSON, or CSV).",
    response_model=list[RejectRow],
    dependencies=_DELIVER,
)
async def get_rejects(
    request: Request,
    ingest_id: UUID,
    as_csv: Annotated[bool, Query(alias="csv")] = False,
) -> object:
    rows = await _service(request).rejects(ingest_id)
    if not as_csv:
        return rows
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("file", "line", "reason"))
    writer.writerows((r.file, r.line, r.reason) for r in rows)
    return Response(out.getvalue(), media_type="text/csv")


@router.get(
    "/ingests/{ingest_id}/lines",
    summary="Stored lines of a run.",
    response_model=list[TracedLine],
    dependencies=_DELIVER,
)
async def get_lines(
    request: Request,
    ingest_id: UUID,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[TracedLine]:
    return await _service(request).lines(ingest_id, limit=limit, offset=offset)


@router.get(
    "/trace",
    summary="The lines behind a node's cost on a day in a dimension.",
    response_model=list[TracedLine],
    dependencies=_READ,
)
async def trace(
    request: Request,
    node: str,
    day: Annotated[date, Query(alias="date")],
    dimension: str,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
) -> list[TracedLine]:
    return await _service(request).trace(node, day, dimension, limit=limit)
