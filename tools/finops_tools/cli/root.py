"""The root Typer app of `finops` (imported by `finops_tools.cli.main` on demand)."""

from __future__ import annotations

import typer

from finops_tools.cli.lazy import LazyGroup

__all__ = ["app"]


app = typer.Typer(
    name="finops",
    cls=LazyGroup,
    help="FinOps platform: ingest bills, allocate shared costs, watch budgets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """FinOps platform: ingest bills, allocate shared costs, watch budgets."""


@app.command(help="Print the version.")
def version() -> None:
    from finops import __version__

    print(__version__)
