"""`finops results`: the stored results, in the format of `finops allocate --output`."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from finops.adapters.stored_results import fetch_document
from finops.errors import InputError
from finops.formats.engine_files import parse_day
from finops_tools.cli.stack_address import postgres_settings, reach

__all__ = ["register", "write_document"]


def results(
    output: Annotated[Path, typer.Option("--output", help="OUT.json")],
    from_: Annotated[
        str | None, typer.Option("--from", help="First day (ISO).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day (ISO).")] = None,
) -> None:
    if output.suffix != ".json" or not output.parent.is_dir():
        raise InputError(
            f"output must be a .json file in an existing directory: {output}"
        )
    first, last = parse_day(from_, "--from"), parse_day(to, "--to")
    postgres = postgres_settings()
    document = reach(
        "PostgreSQL",
        postgres.database_url,
        fetch_document(postgres, first, last),
    )
    write_document(document, output)


def write_document(document: dict[str, Any], path: Path) -> None:
    """Write JSON atomically: the whole file or none."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle)
    os.replace(name, path)


def register(app: typer.Typer) -> None:
    """Add `results`."""
    app.command(help="Write the stored allocation results (as `allocate --output`).")(
        results
    )
