"""Who passed what to whom, explain one number, reconciliation."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from api.params import PageParams, WindowParams, check_day, check_identifier
from api.reports import explain, reconciliation, sharing
from api.routes.common import ERRORS, READ, cached

router = APIRouter(prefix="/v1", tags=["audit"], dependencies=READ, responses=ERRORS)


@router.get(
    "/platform/services",
    summary="Platform and shared nodes: what each passed to whom, strategy and share.",
)
async def platform_services(
    request: Request,
    window: WindowParams,
    page: PageParams,
    type: Annotated[list[Literal["platform", "shared"]], Query()] = [],  # noqa: B006
) -> Response:
    types: list[str] = sorted(set(type)) or ["platform", "shared"]
    return await cached(
        request, lambda db: sharing.passed_on(db, window, page, types=types)
    )


@router.get(
    "/infrastructure/hierarchy",
    summary="Resource nodes: what each passed to which shared, platform or product "
    "node, with strategy and share.",
)
async def infrastructure(
    request: Request, window: WindowParams, page: PageParams
) -> Response:
    return await cached(
        request, lambda db: sharing.passed_on(db, window, page, types=["resource"])
    )


@router.get(
    "/explain",
    summary="How one node's cost on one day in one dimension was built: the flows "
    "down to the direct costs, their sources and the bill lines (file and line).",
)
async def explain_number(
    request: Request,
    node: Annotated[str, Query(min_length=1, max_length=500)],
    date: Annotated[date, Query(description="The charge date.")],
    dimension: Annotated[str, Query(min_length=1, max_length=200)],
    depth: Annotated[int, Query(ge=0, le=16)] = 8,
    lines: Annotated[
        int, Query(ge=0, le=1000, description="Bill lines per node.")
    ] = 20,
) -> Response:
    check_identifier(node, "query.node")
    check_identifier(dimension, "query.dimension")
    check_day(date, "query.date")
    currency = request.app.state.settings.currency
    return await cached(
        request,
        lambda db: explain.explain(
            db,
            node_id=node,
            day=date,
            dimension=dimension,
            depth=depth,
            lines=lines,
            currency=currency,
        ),
    )


@router.get(
    "/reconciliation",
    summary="Per day raw = allocated + unallocated to the micro-unit, flow invariants, "
    "graph stats, freshness.",
)
async def reconcile(request: Request, window: WindowParams) -> Response:
    return await cached(request, lambda db: reconciliation.reconciliation(db, window))
