"""POST /v1/graph: validate a graph and publish what changed (admin)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.answers import json_answer
from api.routes.common import ERRORS
from api.routes.writes import Admin, body_schema, body_text, is_yaml
from finops.adapters.graphlog import apply_graph, check_graph, describe_delta
from finops.formats.graphfile import parse_graph

router = APIRouter(prefix="/v1", tags=["graph"], responses=ERRORS)
_LOCK = asyncio.Lock()  # one apply at a time: each reads the topic, then appends


@router.post(
    "/graph",
    summary="Validate a graph (YAML or JSON, as `finops graph apply` reads it) and "
    "publish its differences to the graph topic; `dry_run` validates and shows the "
    "differences only. Errors are those of `finops graph apply` (422 invalid_graph).",
    openapi_extra=body_schema("The whole graph: nodes and edges."),
    responses={413: ERRORS[422]},
)
async def post_graph(
    request: Request,
    _token: Admin,
    dry_run: Annotated[bool, Query(description="Validate only.")] = False,
) -> Response:
    text = await body_text(request)
    spec = check_graph(parse_graph(text, name="body", yaml_text=is_yaml(request, text)))
    kafka = request.app.state.settings.kafka
    async with _LOCK:
        version, delta = await apply_graph(kafka, spec, dry_run=dry_run)
    published = not (dry_run or delta.is_empty)
    return json_answer(
        request,
        {
            "dry_run": dry_run,
            "published": published,
            "version": version,
            "nodes": len(spec.nodes),
            "edges": len(spec.edges),
            "changes": describe_delta(delta),
        },
    )
