"""Nodes: list, one node, its time series."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.errors import ApiError
from api.params import PageParams, WindowParams
from api.reports import nodes
from api.routes.common import ERRORS, READ, cached
from finops.domain.dag import NodeType

router = APIRouter(prefix="/v1", tags=["nodes"], dependencies=READ, responses=ERRORS)


def _selectors(values: list[str]) -> tuple[dict[str, str], list[str]]:
    """`label=key=value` (the label has that value) or `label=key` (it exists)."""
    pairs: dict[str, str] = {}
    keys: list[str] = []
    for value in values:
        key, sep, wanted = value.partition("=")
        if not key or "\x00" in value:
            raise ApiError(
                422,
                "invalid_request",
                f"query.label: {value!r} is not key=value or key",
                {"problems": [{"field": "query.label", "problem": "bad selector"}]},
            )
        if sep:
            pairs[key] = wanted
        else:
            keys.append(key)
    return pairs, keys


@router.get("/nodes", summary="Nodes by id, filtered by type and label selectors.")
async def node_list(
    request: Request,
    window: WindowParams,
    page: PageParams,
    type: Annotated[NodeType | None, Query(description="Node type.")] = None,
    label: Annotated[
        list[str], Query(description="key=value or key; repeat to AND them.")
    ] = [],  # noqa: B006
    retired: Annotated[
        bool, Query(description="Include nodes no longer in the graph.")
    ] = False,
) -> Response:
    pairs, keys = _selectors(label)
    kind = str(type) if type is not None else None
    return await cached(
        request,
        lambda db: nodes.node_list(
            db, window, page, node_type=kind, labels=pairs, keys=keys, retired=retired
        ),
    )


@router.get(
    "/nodes/{node_id:path}/timeseries",
    summary="Cost per day and dimension and usage per day and metric, sorted; every "
    "day of the window present, null where nothing is stored.",
)
async def timeseries(
    request: Request,
    node_id: str,
    window: WindowParams,
    metric: Annotated[
        list[str], Query(description="Usage metrics (default: all).")
    ] = [],  # noqa: B006
) -> Response:
    return await cached(
        request, lambda db: nodes.node_timeseries(db, window, node_id, metric)
    )


@router.get(
    "/nodes/{node_id:path}",
    summary="A node, its figures, its parents and children with strategy, and its "
    "flows in both directions.",
)
async def node_detail(request: Request, node_id: str, window: WindowParams) -> Response:
    return await cached(request, lambda db: nodes.node_detail(db, window, node_id))
