"""`finops allocate` without Typer: the command's body, and its plain argument forms.

The body (`allocate_files`) is what the Typer command runs. `plain_call` takes the
command line of `finops allocate` when every argument is in its plain form (each
option once, as `--name value`, or the `--summary-only` flag); the program then
runs the body without importing Typer. Anything else (help, `--name=value`, a
repeated, unknown or missing option) is left to Typer, which answers as before.
Nothing heavy is imported here until the body runs.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    from finops.formats.costs_ahead import CostsAhead

__all__ = ["allocate_files", "plain_call"]

T = TypeVar("T")

# Option -> parameter of allocate_files, as the Typer command declares them.
_PATHS: Final = {"--graph": "graph", "--costs": "costs", "--usage": "usage"}
_TEXTS: Final = {"--from": "from_", "--to": "to"}
_REQUIRED: Final = ("graph", "costs")
# GIL switch interval while reading (the default is 0.005 s); see `_quick_handovers`.
_SWITCH_SECONDS: Final = 0.0002


def plain_call(argv: list[str]) -> Callable[[], None] | None:
    """The call `finops allocate` makes for these arguments, if all are plain."""
    if argv[:1] != ["allocate"]:
        return None
    paths: dict[str, Path] = {}
    texts: dict[str, str] = {}
    summary_only = False
    rest = iter(argv[1:])
    for arg in rest:
        name = (
            _PATHS.get(arg)
            or _TEXTS.get(arg)
            or ("output" if arg == "--output" else None)
        )
        if arg == "--summary-only" and not summary_only:
            summary_only = True
            continue
        value = next(rest, None)
        if name is None or name in paths or name in texts or value is None:
            return None
        if value.startswith("-") or value == "":
            return None  # Typer decides what such a value means
        if arg in _TEXTS:
            texts[name] = value
        else:
            paths[name] = Path(value)
    if any(name not in paths for name in _REQUIRED):
        return None
    return partial(
        allocate_files,
        paths["graph"],
        paths["costs"],
        paths.get("usage"),
        from_=texts.get("from_"),
        to=texts.get("to"),
        output=paths.get("output"),
        summary_only=summary_only,
    )


def allocate_files(
    graph: Path,
    costs: Path,
    usage: Path | None = None,
    *,
    from_: str | None = None,
    to: str | None = None,
    output: Path | None = None,
    summary_only: bool = False,
) -> None:
    """Allocate the files; print the summary as JSON or write the result."""
    from finops.adapters.heap import arrow_on_the_heap, keep_freed_memory
    from finops.errors import InputError

    if (output is None) == (not summary_only):
        raise InputError("give exactly one of --output and --summary-only")
    if keep_freed_memory():  # before the first big block (decision 0370)
        arrow_on_the_heap()
    with _quick_handovers(), _without_gc():
        # Arrow parses the cost file while the rest of the library is imported.
        from finops.formats.costs_ahead import read_costs_ahead

        costs_ahead = read_costs_ahead(costs)
        _allocate_read_ahead(
            graph, costs, usage, costs_ahead, from_=from_, to=to, output=output
        )


def _allocate_read_ahead(
    graph: Path,
    costs: Path,
    usage: Path | None,
    costs_ahead: CostsAhead,
    *,
    from_: str | None,
    to: str | None,
    output: Path | None,
) -> None:
    """`allocate_files` once the cost file's reading thread runs."""
    from finops.domain.allocation.readout import summarize
    from finops.formats.engine_files import load_engine, parse_day
    from finops_tools.cli.quickexit import quick_exit

    if output is not None:
        from finops.formats.report import check_output_path

        check_output_path(output)
    first, last = parse_day(from_, "--from"), parse_day(to, "--to")
    engine = step(
        "allocating",
        lambda: load_engine(
            graph, costs, usage, first=first, last=last, costs_ahead=costs_ahead
        ),
    )
    if output is None:
        print(json.dumps(summarize(engine).to_json()))
    else:
        from finops.formats.report import write_result

        step(f"writing {output}", lambda: write_result(engine, output))
    quick_exit()  # the result is out and every file closed


def step(label: str, work: Callable[[], T]) -> T:
    """Run one step, with a spinner on stderr when it is a terminal."""
    status: AbstractContextManager[object] = nullcontext()
    if sys.stderr.isatty():
        from rich.console import Console  # a spinner only for a person watching

        status = Console(stderr=True).status(label)
    with status:
        return work()


@contextmanager
def _quick_handovers() -> Iterator[None]:
    """A short GIL switch interval while the reading thread runs beside this one.

    The cost file's thread needs the GIL briefly between Arrow's and NumPy's
    GIL-free calls (~15 times per 1 MiB block). With the default 5 ms interval it
    waited up to 5 ms each time this thread ran Python (imports, the graph): its
    reading took ~0.45 s of wall time for ~0.1 s of parsing. At 0.2 ms it gets the
    GIL back at once; the extra switches cost microseconds.
    """
    interval = sys.getswitchinterval()
    sys.setswitchinterval(_SWITCH_SECONDS)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


@contextmanager
def _without_gc() -> Iterator[None]:
    """No cyclic collection while importing and allocating, and none of its objects
    at exit.

    The modules' and the engine's ~10^5 graph, rule and plan objects live until the
    process ends: collector passes over them (during the run, and the full one at
    interpreter exit) cost ~0.1 s on 5,000 nodes and free next to nothing; NumPy's
    and Arrow's imports alone ran ~0.01 s of them. Frozen
    objects are still freed by reference counting; the collector runs again
    afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
