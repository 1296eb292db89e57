"""Recommendations and unit costs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.params import WindowParams, check_identifier
from api.reports import insights
from api.routes.common import ERRORS, READ, cached

router = APIRouter(prefix="/v1", tags=["insights"], dependencies=READ, responses=ERRORS)


@router.get(
    "/recommendations",
    summary="Rightsizing from utilisation metrics (average and peak below 30 %: "
    "downsize, below 50 %: rightsize, with estimated savings), unallocated-cost "
    "hotspots and idle shared nodes.",
)
async def recommendations(
    request: Request,
    window: WindowParams,
    min_share: Annotated[
        float,
        Query(
            ge=0,
            le=1,
            description="Smallest share of the raw total a hotspot keeps.",
        ),
    ] = 0.01,
) -> Response:
    return await cached(
        request,
        lambda db: insights.recommendations(db, window, min_share=min_share),
    )


@router.get(
    "/unit-costs",
    summary="Cost per unit of a usage metric per product (cost per request, per "
    "user) and margin where a revenue metric is ingested as usage.",
)
async def unit_costs(
    request: Request,
    window: WindowParams,
    metric: Annotated[
        list[str], Query(description="Usage metrics (default: all).")
    ] = [],  # noqa: B006
    revenue_metric: Annotated[
        str, Query(min_length=1, max_length=200, description="Revenue as usage.")
    ] = "revenue",
) -> Response:
    for name in metric:
        check_identifier(name, "query.metric")
    check_identifier(revenue_metric, "query.revenue_metric")
    return await cached(
        request,
        lambda db: insights.unit_costs(
            db, window, metrics=metric, revenue_metric=revenue_metric
        ),
    )
