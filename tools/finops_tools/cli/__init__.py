"""The `finops` command: one Typer app; each module here adds its commands.

Command modules are imported only when one of their commands runs: `finops --help`
and every single command pay for their own imports, not for every group's
(numpy, pyarrow, asyncpg, the dev-stack launcher …). `commands.COMMANDS` says which
module registers which top-level command, with the one-line help shown in listings;
`tests/unit/test_cli_commands.py` checks it against what the modules register.

The app itself lives in `root` and is imported when needed: `finops allocate` in
its plain form (`allocate_plain`) runs without Typer at all.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from finops.errors import FinopsError
from finops_tools.cli.commands import COMMANDS, CommandEntry
from finops_tools.cli.quickexit import allow, quick_exit

if TYPE_CHECKING:
    import typer

    app: typer.Typer

__all__ = ["COMMANDS", "CommandEntry", "app", "main", "program", "quick_exit"]


def __getattr__(name: str) -> Any:
    """`app`, the root Typer app, imported on first use."""
    if name == "app":
        from finops_tools.cli.root import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Run the command; a FinopsError is one line on stderr and exit code 2."""
    from finops_tools.cli.root import app

    try:
        app()
    except FinopsError as exc:
        _fail(exc)


def program() -> None:
    """The `finops` program (console script and `python -m finops_tools.cli`).

    As `main`, but `finops allocate` in its plain form skips Typer (its import and
    its per-parameter set-up, ~0.03-0.05 s), and a command that has written
    everything may end the process at once (`quick_exit`).
    """
    allow()
    _one_blas_thread()
    from finops_tools.cli.allocate_plain import plain_call

    call = plain_call(sys.argv[1:])
    if call is None:
        main()
        return
    try:
        call()
    except FinopsError as exc:
        _fail(exc)


def _one_blas_thread() -> None:
    """One OpenBLAS thread unless the environment says otherwise.

    No command calls BLAS (no matrix products), but NumPy's OpenBLAS starts a
    thread per core when NumPy is imported, and they spin ~0.1 CPU-s before they
    sleep: on two cores that is CPU taken from the cost file's reading thread. It
    must be set before NumPy is imported; commands' child processes inherit it.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _fail(exc: FinopsError) -> None:
    print(f"error: {exc}", file=sys.stderr)
    raise SystemExit(2) from None
