"""`finops cloudsim`: the cloud simulator as a service (executor endpoint + billing)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
import uvicorn

from finops.domain.budgets import secret_bytes
from finops.errors import InputError
from finops_tools.cli.stack_address import stack_token
from finops_tools.cloudsim.server import create_app
from finops_tools.cloudsim.simulator import Simulator, SimulatorOptions, hour_of

__all__ = ["register"]


def cloudsim(
    ingest: Annotated[str, typer.Option(help="The ingest service's URL.")],
    secret: Annotated[
        str, typer.Option(help="whsec_ secret the executor calls are signed with.")
    ],
    port: Annotated[int, typer.Option(help="Port of the executor endpoint.")] = 9001,
    start: Annotated[
        str, typer.Option(help="Simulated start (ISO date or time, UTC).")
    ] = "2026-11-01",
    hours_per_second: Annotated[
        float, typer.Option(min=0.01, help="Simulated hours per real second.")
    ] = 18.0,
    rules: Annotated[
        str | None, typer.Option(help="Rules id (PUT /rules) for the uploads.")
    ] = None,
    exit_at_end: Annotated[
        bool, typer.Option(help="Stop when the simulated month has ended.")
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(
            help="Bearer token with the ingest scope (default: FINOPS_TOKEN, else"
            " the dev stack's admin token)."
        ),
    ] = None,
) -> None:
    try:
        secret_bytes(secret)
        begin = hour_of(start)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    options = SimulatorOptions(
        ingest_url=ingest.rstrip("/"),
        start=begin,
        hours_per_second=hours_per_second,
        rules_id=rules,
        ingest_token=stack_token(token),
    )
    asyncio.run(_serve(options, secret, port, exit_at_end))


async def _serve(
    options: SimulatorOptions, secret: str, port: int, exit_at_end: bool
) -> None:
    simulator = Simulator(options)
    config = uvicorn.Config(
        create_app(simulator, secret), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    typer.echo(
        f"cloudsim: executor on http://127.0.0.1:{port}/deallocate, billing "
        f"{len(simulator.resources)} resources from {options.start:%Y-%m-%d %H:%M} "
        f"at {options.hours_per_second:g} h/s into {options.ingest_url}",
        err=True,
    )
    await simulator.run()
    typer.echo(f"cloudsim: month ended; spend {simulator.spend()}", err=True)
    if exit_at_end:
        server.should_exit = True
    await serving


def register(app: typer.Typer) -> None:
    """Add `cloudsim`."""
    app.command(help="A simulated cloud billing into ingest, with an executor.")(
        cloudsim
    )
