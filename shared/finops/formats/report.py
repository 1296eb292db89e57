"""Writing allocation results (.json, .csv, .parquet), whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from finops.domain.allocation.engine import AllocationEngine
from finops.domain.allocation.tables import to_day_numbers
from finops.errors import InputError
from finops.formats.arrow_columns import date_column, decimal_column, string_column
from finops.formats.jsonout import FIGURES, nonzero_node_rows, write_json

__all__ = [
    "FIGURES",
    "OUTPUT_SUFFIXES",
    "check_output_path",
    "node_table",
    "write_result",
]

OUTPUT_SUFFIXES = (".json", ".csv", ".parquet")


def check_output_path(path: Path) -> None:
    """Reject an output path we cannot write before doing any work."""
    if path.suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"output must end in {', '.join(OUTPUT_SUFFIXES)}: {path}")
    if not path.parent.is_dir():
        raise InputError(f"output directory does not exist: {path.parent}")


def write_result(engine: AllocationEngine, path: Path) -> None:
    """Write the result in the format named by the suffix, atomically."""
    check_output_path(path)
    writers: dict[str, Callable[[Path], None]] = {
        ".json": lambda tmp: _with_handle(tmp, engine),
        ".csv": lambda tmp: pcsv.write_csv(node_table(engine), tmp),
        ".parquet": lambda tmp: pq.write_table(node_table(engine), tmp),
    }
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(name, 0o644)
    try:
        writers[path.suffix](Path(name))
        os.replace(name, path)
    finally:
        if os.path.exists(name):
            os.unlink(name)


def _with_handle(path: Path, engine: AllocationEngine) -> None:
    with path.open("wb") as handle:
        write_json(engine, handle)


def node_table(engine: AllocationEngine) -> pa.Table:
    """Node rows with any non-zero figure, amounts as exact decimals."""
    nodes, days, dims, figures = nonzero_node_rows(engine)
    first = to_day_numbers([engine.days.first])[0]
    columns: dict[str, pa.Array] = {
        "node": string_column(nodes, engine.graph.ids),
        "date": date_column(days + first),
        "dimension": string_column(dims, engine.dimensions),
    }
    for name, figure in zip(FIGURES, figures, strict=True):
        columns[name] = decimal_column(figure)
    return pa.table(columns)
