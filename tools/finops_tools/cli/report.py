"""`finops report --html OUT.html`: the stored costs as one self-contained page."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from finops_tools.cli.stack_address import postgres_settings

__all__ = ["register"]


def report(
    html: Annotated[Path, typer.Option("--html", help="OUT.html to write.")],
    first: Annotated[
        str | None, typer.Option("--from", help="First day (ISO); default: 30 days.")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="Last day (ISO); default: the latest.")
    ] = None,
) -> None:
    from finops_tools.report.data import fetch_report
    from finops_tools.report.page import render_page

    try:
        window = [date.fromisoformat(d) if d else None for d in (first, last)]
    except ValueError as error:
        raise typer.BadParameter(f"--from/--to: {error}") from None
    # DATABASE_URL, else the dev stack's database (with its password)
    data = asyncio.run(fetch_report(postgres_settings(), window[0], window[1]))
    html.write_text(render_page(data))
    typer.echo(
        f"{html}: {data.first} to {data.last}, raw total {data.raw_total:,.2f},"
        f" {len(data.flows)} flows in the Sankey"
    )


def register(app: typer.Typer) -> None:
    app.command(
        name="report", help="A self-contained HTML cost report (no Grafana needed)."
    )(report)
