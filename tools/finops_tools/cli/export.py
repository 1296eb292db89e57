"""`finops export TYPE`: the API's CSV exports from PostgreSQL, for scripts."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

import asyncpg
import typer

from finops.adapters.exports import FORMATS, TYPES, export_problem, stream_export
from finops.contracts.settings import PostgresSettings
from finops.errors import InputError
from finops.formats.engine_files import parse_day
from finops_tools.cli.stack_address import postgres_settings, reach

__all__ = ["register"]


def export(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(TYPES)}.")],
    output: Annotated[Path, typer.Option("--output", help="OUT.csv")],
    start: Annotated[str, typer.Option("--start", help="First day (ISO).")],
    end: Annotated[str, typer.Option("--end", help="Last day (ISO), inclusive.")],
    dimension: Annotated[
        list[str] | None, typer.Option("--dimension", help="Repeat; default all.")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help=f"One of: {', '.join(FORMATS)}.")
    ] = "csv",
) -> None:
    problem = export_problem(kind, fmt)
    if problem:
        raise InputError(problem)
    first, last = parse_day(start, "--start"), parse_day(end, "--end")
    assert first is not None and last is not None
    if first > last:
        raise InputError(f"--start {first} is after --end {last}")
    if not output.parent.is_dir():
        raise InputError(f"{output}: its directory does not exist")
    postgres = postgres_settings()
    work = _write(postgres, kind, fmt, first, last, dimension or [], output)
    written = reach("PostgreSQL", postgres.database_url, work)
    if fmt == "parquet":
        print(f"{output}: {written} bytes")
    else:
        print(f"{output}: {written} rows")


async def _write(
    postgres: PostgresSettings,
    kind: str,
    fmt: str,
    first: date,
    last: date,
    dims: list[str],
    output: Path,
) -> int:
    """Stream the export into a temporary file, then move it in place; the rows
    (CSV) or bytes (Parquet) written."""
    pool = await asyncpg.create_pool(
        postgres.database_url,
        min_size=1,
        max_size=1,
        server_settings={"search_path": postgres.db_schema},
    )
    fd, name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
    newlines = size = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            async for chunk in stream_export(pool, kind, first, last, dims, fmt):
                handle.write(chunk)
                newlines += chunk.count(b"\n")
                size += len(chunk)
        os.replace(name, output)
    finally:
        await pool.close()
        if os.path.exists(name):
            os.unlink(name)
    return size if fmt == "parquet" else max(newlines - 1, 0)


def register(app: typer.Typer) -> None:
    """Add `export`."""
    app.command(
        help="Write one of the API's exports (CSV, Parquet, FOCUS) from PostgreSQL."
    )(export)
