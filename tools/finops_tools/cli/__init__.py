"""The `finops` command: one Typer app; each module here adds its commands."""

from __future__ import annotations

import importlib
import sys
from typing import Final

import typer

from finops.errors import FinopsError

__all__ = ["app", "main"]

# Modules that define `register(app)`; each owns one group of commands.
COMMAND_MODULES: Final[tuple[str, ...]] = (
    "dev",
    "db",
    "focus",
    "allocation",
    "graph",
    "results",
    "ingest",
    "tokens",
    "demo",
)

app = typer.Typer(
    name="finops",
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


for _name in COMMAND_MODULES:
    importlib.import_module(f"finops_tools.cli.{_name}").register(app)


def main() -> None:
    """Run the command; a FinopsError is one line on stderr and exit code 2."""
    try:
        app()
    except FinopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
