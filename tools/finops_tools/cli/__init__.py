"""The `finops` command: one Typer app; each module here adds its commands.

Command modules are imported only when one of their commands runs: `finops --help`
and every single command pay for their own imports, not for every group's
(numpy, pyarrow, asyncpg, the dev-stack launcher …). `commands.COMMANDS` says which
module registers which top-level command, with the one-line help shown in listings;
`tests/unit/test_cli_commands.py` checks it against what the modules register.
"""

from __future__ import annotations

import os
import sys

import typer

from finops.errors import FinopsError
from finops_tools.cli.commands import COMMANDS, CommandEntry
from finops_tools.cli.lazy import LazyGroup

__all__ = ["COMMANDS", "CommandEntry", "app", "main", "program", "quick_exit"]


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


# Set by `program` only: a command run in-process (tests call `main`) returns as usual.
_QUICK_EXIT = False


def program() -> None:
    """The `finops` program (console script and `python -m finops_tools.cli`).

    As `main`, and a command that has written everything may then end the process
    at once (`quick_exit`), skipping the teardown of its objects.
    """
    global _QUICK_EXIT
    _QUICK_EXIT = True
    main()


def quick_exit() -> None:
    """End the `finops` program now, with code 0, once output is flushed.

    For a command whose work is done and whose every file is closed: freeing a
    large allocation's arrays and objects one by one, then the interpreter's
    teardown, took 0.05-0.1 s of a one-second `finops allocate`; the operating
    system reclaims the memory at once. Does nothing unless run by `program`.
    """
    if not _QUICK_EXIT:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main() -> None:
    """Run the command; a FinopsError is one line on stderr and exit code 2."""
    try:
        app()
    except FinopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
