"""`finops focus`: FOCUS, AWS CUR and provider bills offline: normalise, summarise."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.progress import Progress as ProgressBar
from rich.table import Table

from finops.domain.focus.aggregate import write_costs
from finops.domain.focus.mapping import load_rules
from finops.domain.focus.normalize import normalize_file
from finops.domain.focus.offline import NormalizeResult, check_files, normalize_paths
from finops.domain.focus.readers import Progress
from finops.domain.focus.rejects import write_rejects
from finops.domain.focus.summary import Summary, summarize_files, to_six_decimals
from finops.domain.money import format_micros
from finops.formats.ledger import LedgerWriter, ledger_table

__all__ = ["focus_app", "register"]

# Files at least this large get a progress bar (when stderr is a terminal).
_PROGRESS_BYTES: Final = 32 << 20

focus_app = typer.Typer(
    help="FOCUS bills offline: normalise to node costs, summarise spend.",
    no_args_is_help=True,
)

Files = Annotated[
    list[Path],
    typer.Argument(
        help="FOCUS or AWS CUR files (.csv, .csv.gz, Parquet), or provider CSVs."
    ),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile", help="Provider profile for simple CSVs: aws, azure, snowflake."
    ),
]

FormatOption = Annotated[
    str,
    typer.Option(
        "--format",
        help="auto (the layout from the header) or cur (an AWS CUR, legacy or 2.0).",
    ),
]


def register(app: typer.Typer) -> None:
    """Add the `focus` command group."""
    app.add_typer(focus_app, name="focus")


@focus_app.command(help="Normalise bills to node costs (node,date,dimension,amount).")
def normalize(
    files: Files,
    rules: Annotated[Path, typer.Option("--rules", help="Mapping rules YAML.")],
    output: Annotated[Path, typer.Option("--output", help="COSTS.csv to write.")],
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="REJECTS.csv to write.")
    ] = None,
    profile: ProfileOption = None,
    bill_format: FormatOption = "auto",
) -> None:
    check_files(files)
    with _progress_bars(files) as progress:
        result = normalize_paths(
            files,
            load_rules(rules),
            profile=profile,
            bill_format=bill_format,
            progress=progress,
        )
    _write_outputs(result, output, rejects)
    print(_normalize_report(result, output))
    _warn_absent_columns(result)


def _warn_absent_columns(result: NormalizeResult) -> None:
    """Name, on stderr, the columns the rules use that a file lacks (typos)."""
    for counts in result.files:
        if counts.absent_columns:
            absent = ", ".join(counts.absent_columns)
            print(
                f"warning: {counts.file}: rules name absent columns: {absent}",
                file=sys.stderr,
            )


def _normalize_report(result: NormalizeResult, output: Path) -> str:
    """One line of counts for the terminal."""
    rejected = len(result.rejects)
    totals = ", ".join(
        f"{name} {format_micros(micros)}"
        for name, micros in result.provider_totals().items()
    )
    return (
        f"{result.rows_read} rows from {len(result.files)} file(s): "
        f"{result.rows_read - rejected} accepted, {rejected} rejected; "
        f"{result.costs.num_rows} cost rows written to {output}\n"
        f"accepted cost by provider: {totals or 'none'}"
    )


def _write_outputs(result: NormalizeResult, output: Path, rejects: Path | None) -> None:
    """Write the costs (and rejects) atomically: no partial file is ever left."""
    _write_atomically(output, lambda tmp: write_costs(result.costs, tmp))
    if rejects is not None:
        _write_atomically(rejects, lambda tmp: write_rejects(result.rejects, tmp))


def _write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Write to a temporary file beside `path`, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _progress_bars(
    files: list[Path],
) -> Iterator[Callable[[Path], Progress | None] | None]:
    """Per-file progress bars on stderr, only on a terminal and for large files."""
    if (
        not sys.stderr.isatty()
        or max(f.stat().st_size for f in files) < _PROGRESS_BYTES
    ):
        yield None
        return
    with ProgressBar(console=Console(stderr=True), transient=True) as bars:

        def start(path: Path) -> Progress:
            task = bars.add_task(path.name, total=1.0)
            return lambda done: bars.update(task, completed=done)

        yield start


@focus_app.command(
    help="Spend by provider, service and charge category, sub account; tag coverage."
)
def summary(
    files: Files,
    cost_column: Annotated[
        str,
        typer.Option(
            "--cost-column",
            help="BilledCost, EffectiveCost, ListCost or ContractedCost.",
        ),
    ] = "BilledCost",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of tables.")
    ] = False,
    profile: ProfileOption = None,
    bill_format: FormatOption = "auto",
) -> None:
    check_files(files)
    result = summarize_files(
        files, cost_column=cost_column, profile=profile, bill_format=bill_format
    )
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        _print_summary(result)


def _print_summary(result: Summary) -> None:
    """Rich tables: one per grouping, then totals and tag coverage."""
    console = Console()
    for grouping, values in result.to_dict()["spend"].items():
        table = Table(title=f"{result.cost_column} by {grouping.replace('_', ' ')}")
        table.add_column(grouping.replace("_", " "))
        table.add_column("spend", justify="right")
        for key, amount in values.items():
            table.add_row(key, amount)
        console.print(table)
    console.print(
        f"total {to_six_decimals(result.total)} over {result.rows} rows "
        f"({result.unreadable} without a readable cost); "
        f"tagged: {result.tagged_rows} rows, {result.tag_coverage():.1%} of charges"
    )


@focus_app.command(
    help="The master ledger: every bill line of FOCUS (1.0-1.3), CUR and provider "
    "files as one FOCUS 1.3 CSV, the mapped node and source line in x_ columns."
)
def ledger(
    files: Files,
    rules: Annotated[Path, typer.Option("--rules", help="Mapping rules YAML.")],
    output: Annotated[Path, typer.Option("--output", help="LEDGER.csv to write.")],
    profile: ProfileOption = None,
    bill_format: FormatOption = "auto",
) -> None:
    check_files(files)
    mapping = load_rules(rules)
    rejected = 0

    def write(tmp: Path) -> int:
        nonlocal rejected
        writer = LedgerWriter(tmp)
        try:
            for path in files:
                batches = normalize_file(
                    path,
                    mapping,
                    profile=profile,
                    bill_format=bill_format,
                    keep_lines=True,
                )
                for batch in batches:
                    rejected += len(batch.rejects)
                    if batch.lines is not None and batch.lines.num_rows:
                        writer.write([ledger_table(batch.lines, file=str(path))])
        finally:
            writer.close()
        return writer.rows

    rows: list[int] = []
    _write_atomically(output, lambda tmp: rows.append(write(tmp)))
    print(
        f"{rows[0]} bill lines from {len(files)} file(s) written to {output} "
        f"({rejected} rejected rows left out)"
    )
