"""Budgets, alerts, webhook deliveries and action runs: the governance tables
(docs/governance.md) read and changed with the code `finops budgets | alerts |
webhooks | actions` use."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from api.answers import json_answer
from api.errors import ApiError, NotFoundError
from api.params import PageParams
from api.queries import governance as queries
from api.routes.common import ADMIN, ERRORS, READ, reader
from api.routes.writes import Admin, actor, body_schema, body_text, writer
from finops.adapters.governance_store import (
    apply_governance,
    approve_run,
    redeliver,
    request_reverse,
)
from finops.errors import InputError
from finops.formats.governancefile import parse_governance

router = APIRouter(prefix="/v1", tags=["governance"], responses=ERRORS)

_CONFLICT: dict[int | str, dict[str, Any]] = {409: ERRORS[422], 404: ERRORS[422]}
DeliveryStatus = Literal["pending", "delivered", "dead"]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="From the list.")]


@router.get(
    "/budgets",
    summary="The applied budgets (as validated), their thresholds firing now and "
    "the latest governance version.",
    dependencies=READ,
)
async def budgets(request: Request, page: PageParams) -> Response:
    return json_answer(request, await queries.budgets(reader(request), page))


@router.put(
    "/budgets",
    summary="Apply a governance file (budgets, webhooks, actions; YAML or JSON as "
    "`finops budgets apply` reads it): only the differences are written, in one "
    "transaction. A refused file changes nothing; the error names its line.",
    openapi_extra=body_schema("A governance file: budgets, webhooks, actions."),
    responses={413: ERRORS[422]},
)
async def put_budgets(
    request: Request,
    token: Admin,
    dry_run: Annotated[bool, Query(description="Validate only.")] = False,
) -> Response:
    text = await body_text(request)
    config, line_of = parse_governance(text, name="body")
    counts = {
        "budgets": len(config.budgets),
        "webhooks": len(config.webhooks),
        "actions": len(config.actions),
    }
    if dry_run:
        return json_answer(request, {"dry_run": True, "valid": True, **counts})
    async with writer(request).acquire() as conn:
        changes = await apply_governance(
            conn, config, line_of, file_name=f"{actor(token)} PUT /v1/budgets"
        )
    return json_answer(request, {"dry_run": False, **changes.as_json()})


@router.get(
    "/alerts",
    summary="Budget alerts fired and resolved, newest first.",
    dependencies=READ,
)
async def alerts(
    request: Request,
    page: PageParams,
    budget: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[Literal["alert", "resolved"] | None, Query()] = None,
) -> Response:
    body = await queries.alerts(reader(request), page, budget=budget, status=status)
    return json_answer(request, body)


@router.get(
    "/webhooks/deliveries",
    summary="Webhook and executor deliveries, newest first, with their state.",
    dependencies=ADMIN,
)
async def deliveries(
    request: Request,
    page: PageParams,
    status: Annotated[DeliveryStatus | None, Query()] = None,
) -> Response:
    body = await queries.deliveries(reader(request), page, status=status)
    return json_answer(request, body)


@router.get(
    "/webhooks/deliveries/{delivery_id}",
    summary="One delivery and every attempt: when, status code, latency, error.",
    dependencies=ADMIN,
    responses={404: ERRORS[422]},
)
async def delivery(request: Request, delivery_id: DeliveryId) -> Response:
    body = await queries.delivery(reader(request), delivery_id)
    if body is None:
        raise NotFoundError("delivery", str(delivery_id))
    return json_answer(request, body)


@router.post(
    "/webhooks/deliveries/{delivery_id}/redeliver",
    summary="Send a delivery again from its first attempt (same webhook-id, same "
    "body).",
    responses={404: ERRORS[422]},
)
async def redeliver_one(
    request: Request, delivery_id: DeliveryId, _token: Admin
) -> Response:
    async with writer(request).acquire() as conn:
        try:
            row = await redeliver(conn, delivery_id)
        except InputError:
            raise NotFoundError("delivery", str(delivery_id)) from None
    return json_answer(request, {**row, "status": "pending"})


@router.get(
    "/actions",
    summary="Action runs, newest first: state, targets, last change.",
    dependencies=ADMIN,
)
async def action_runs(
    request: Request,
    page: PageParams,
    state: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    body = await queries.action_runs(reader(request), page, state=state)
    return json_answer(request, body)


@router.get(
    "/actions/{run_id}",
    summary="One action run and its audit trail (who or what did what, when).",
    dependencies=ADMIN,
    responses={404: ERRORS[422]},
)
async def action_run(request: Request, run_id: uuid.UUID) -> Response:
    body = await queries.action_run(reader(request), run_id)
    if body is None:
        raise NotFoundError("action run", str(run_id))
    return json_answer(request, body)


@router.post(
    "/actions/{run_id}/approve",
    summary="Approve a run waiting for approval: it executes (`dry_run`: the "
    "targets and the state it would reach; nothing is called). 409 when the run is "
    "not waiting for approval.",
    responses=_CONFLICT,
)
async def approve(
    request: Request,
    run_id: uuid.UUID,
    token: Admin,
    dry_run: Annotated[bool, Query(description="Show the targets only.")] = False,
) -> Response:
    result = await _transition(request, run_id, token, dry_run, approve_run)
    return json_answer(request, {"dry_run": dry_run, **result})


@router.post(
    "/actions/{run_id}/reverse",
    summary="Reverse a finished run: the executor restarts its resources "
    "(`dry_run`: only say). 409 when the run cannot be reversed now.",
    responses=_CONFLICT,
)
async def reverse(
    request: Request,
    run_id: uuid.UUID,
    token: Admin,
    dry_run: Annotated[bool, Query(description="Show the targets only.")] = False,
) -> Response:
    result = await _transition(request, run_id, token, dry_run, request_reverse)
    return json_answer(request, {"dry_run": dry_run, **result})


async def _transition(
    request: Request, run_id: uuid.UUID, token: Any, dry_run: bool, step: Any
) -> dict[str, Any]:
    async with writer(request).acquire() as conn:
        exists = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM action_runs WHERE run_id = $1)", run_id
        )
        if not exists:
            raise NotFoundError("action run", str(run_id))
        try:
            result: dict[str, Any] = await step(
                conn, run_id, actor=actor(token), dry_run=dry_run
            )
        except InputError as exc:  # the run's action is no longer configured
            raise ApiError(409, "conflict", str(exc), {"run_id": str(run_id)}) from None
    return result
