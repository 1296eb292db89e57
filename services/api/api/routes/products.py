"""Products and their hierarchy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.params import PageParams, WindowParams
from api.reports import products
from api.routes.common import ERRORS, READ, cached

router = APIRouter(prefix="/v1", tags=["products"], dependencies=READ, responses=ERRORS)


@router.get(
    "/products/hierarchy",
    summary="Products with direct, shared-service and holistic cost, their upstream "
    "tree and the unallocated platform and shared cost; raw total, allocated, "
    "unallocated and coverage.",
)
async def hierarchy(
    request: Request,
    window: WindowParams,
    page: PageParams,
    depth: Annotated[int, Query(ge=0, le=6, description="Levels of upstream.")] = 2,
) -> Response:
    return await cached(
        request, lambda db: products.hierarchy(db, window, page, depth=depth)
    )


@router.get("/products", summary="Products by holistic cost over the window.")
async def product_list(
    request: Request, window: WindowParams, page: PageParams
) -> Response:
    return await cached(request, lambda db: products.products(db, window, page))
