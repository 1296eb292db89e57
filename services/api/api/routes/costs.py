"""Cost breakdowns and the dashboard summary."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from api.params import WindowParams
from api.reports import costs
from api.routes.common import ERRORS, READ, cached
from finops.domain.dag import NodeType

router = APIRouter(prefix="/v1", tags=["costs"], dependencies=READ, responses=ERRORS)

LineGroup = Literal["sub_account", "region", "charge_category", "billing_currency"]


@router.get(
    "/costs/by-type",
    summary="Retained cost per node type (sums to the raw total, nothing twice).",
)
async def by_type(request: Request, window: WindowParams) -> Response:
    return await cached(request, lambda db: costs.by_type(db, window))


@router.get("/costs/by-label", summary="Retained cost per value of a label.")
async def by_label(
    request: Request,
    window: WindowParams,
    key: Annotated[
        str, Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")
    ],
    type: Annotated[list[NodeType], Query(description="Only these node types.")] = [],  # noqa: B006
) -> Response:
    types = sorted({str(t) for t in type})
    return await cached(request, lambda db: costs.by_label(db, window, key, types))


@router.get(
    "/costs/by-provider",
    summary="Bill-line cost per provider (ServiceProviderName), optionally also by "
    "sub-account, region, charge category or currency.",
)
async def by_provider(
    request: Request,
    window: WindowParams,
    group_by: Annotated[list[LineGroup], Query()] = [],  # noqa: B006
) -> Response:
    groups = ["provider", *dict.fromkeys(group_by)]
    return await cached(request, lambda db: costs.by_lines(db, window, groups, None))


@router.get(
    "/costs/by-service",
    summary="Bill-line cost per provider, service category and service name.",
)
async def by_service(
    request: Request,
    window: WindowParams,
    provider: Annotated[str | None, Query(max_length=200)] = None,
    group_by: Annotated[list[LineGroup], Query()] = [],  # noqa: B006
) -> Response:
    groups = ["provider", "service_category", "service_name", *dict.fromkeys(group_by)]
    return await cached(
        request, lambda db: costs.by_lines(db, window, groups, provider)
    )


@router.get(
    "/dashboard/summary",
    summary="Raw, allocated, unallocated, coverage; top products; per type, per day.",
)
async def dashboard(request: Request, window: WindowParams) -> Response:
    return await cached(request, lambda db: costs.dashboard(db, window))
