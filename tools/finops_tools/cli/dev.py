"""`finops dev up | down | status`: the local stack."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from finops_tools.cli.stack_address import dev_stack
from finops_tools.devstack import ComponentStatus, Stack
from finops_tools.devstack.stack import status_as_dict

__all__ = ["register"]

dev_app = typer.Typer(
    help="Run a local stack: real Kafka (KRaft), PostgreSQL, the services."
)
_err = Console(stderr=True)


def _stack() -> Stack:
    return dev_stack()


@dev_app.command(
    help="Start Kafka, PostgreSQL and the services (what is not running yet)."
)
def up(
    services: bool = typer.Option(
        True, "--services/--no-services", help="Start the services."
    ),
    migrate: bool = typer.Option(
        True, "--migrate/--no-migrate", help="Apply the database migrations."
    ),
) -> None:
    report = _stack().up(
        services=services,
        migrate=migrate,
        progress=lambda m: _err.print(f"[dim]{m}[/dim]"),
    )
    for name, seconds in report.seconds.items():
        _err.print(f"{name:<11} ready in {seconds:6.2f}s")
    _print_status(report.components)


@dev_app.command(help="Stop everything `up` started, by process id; data is kept.")
def down() -> None:
    stopped = _stack().down(progress=lambda m: _err.print(m))
    _err.print(
        f"stopped {len(stopped)} component(s)" if stopped else "nothing was running"
    )


@dev_app.command(help="Show what runs where.")
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    rows = _stack().status()
    if as_json:
        print(json.dumps(status_as_dict(rows), indent=2))
    else:
        _print_status(rows)


def _print_status(rows: list[ComponentStatus]) -> None:
    table = Table("component", "state", "address", "pid", "log")
    for row in rows:
        colour = {"running": "green", "external": "cyan"}.get(row.state, "red")
        table.add_row(
            row.name,
            f"[{colour}]{row.state}[/{colour}]",
            row.address,
            str(row.pid or "-"),
            row.log,
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add the `dev` group."""
    app.add_typer(dev_app, name="dev")
