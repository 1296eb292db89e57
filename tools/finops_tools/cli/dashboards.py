"""`finops dashboards build`: the Grafana dashboards, generated from code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from finops.contracts.settings import PostgresSettings

__all__ = ["register"]

dashboards_app = typer.Typer(help="Grafana dashboards generated from code.")


def _default_folder() -> Path:
    """deploy/grafana/dashboards beside the migrations (FINOPS_DEPLOY_DIR)."""
    return PostgresSettings().deploy_dir / "grafana" / "dashboards"


@dashboards_app.command(help="Write every dashboard's JSON (or --check: compare).")
def build(
    output: Annotated[
        Path | None,
        typer.Option(help="Folder to write to (default: deploy/grafana/dashboards)."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if a file differs."),
    ] = False,
) -> None:
    from finops_tools.dashboards.catalog import stale_files, write_all

    folder = output or _default_folder()
    if check:
        stale = stale_files(folder)
        for name in stale:
            typer.echo(f"{folder / name}: differs from the generator", err=True)
        raise typer.Exit(1 if stale else 0)
    for path in write_all(folder):
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.add_typer(dashboards_app, name="dashboards")
