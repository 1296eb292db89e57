"""Writing allocation results (.json, .csv, .parquet), whole or not at all."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from finops.allocation.columns import date_column, decimal_column, string_column
from finops.allocation.engine import AllocationEngine
from finops.allocation.results import flow_columns, node_arrays, summarize
from finops.allocation.tables import to_day_numbers
from finops.errors import InputError
from finops.money import format_micros

__all__ = [
    "FIGURES",
    "OUTPUT_SUFFIXES",
    "check_output_path",
    "node_table",
    "write_result",
]

FIGURES = ("direct", "indirect", "holistic", "allocated_out", "retained")
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
        ".json": lambda tmp: tmp.write_text(json.dumps(result_document(engine))),
        ".csv": lambda tmp: pcsv.write_csv(node_table(engine), tmp),
        ".parquet": lambda tmp: pq.write_table(node_table(engine), tmp),
    }
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        writers[path.suffix](Path(name))
        os.replace(name, path)
    finally:
        if os.path.exists(name):
            os.unlink(name)


def node_table(engine: AllocationEngine) -> pa.Table:
    """Node rows with any non-zero figure, amounts as exact decimals."""
    arrays = node_arrays(engine)
    figures = [getattr(arrays, name) for name in FIGURES]
    nodes, days, dims = np.nonzero(np.any([f != 0 for f in figures], axis=0))
    first = to_day_numbers([engine.days.first])[0]
    columns: dict[str, pa.Array] = {
        "node": string_column(nodes, engine.graph.ids),
        "date": date_column(days + first),
        "dimension": string_column(dims, engine.dimensions),
    }
    for name, figure in zip(FIGURES, figures, strict=True):
        columns[name] = decimal_column(figure[nodes, days, dims])
    return pa.table(columns)


def result_document(engine: AllocationEngine) -> dict[str, Any]:
    """The JSON output: summary, node rows and flows."""
    return {
        "summary": summarize(engine).to_json(),
        "nodes": _node_records(engine),
        "flows": _flow_records(engine),
    }


def _node_records(engine: AllocationEngine) -> list[dict[str, str]]:
    table = node_table(engine)
    rows = []
    for row in table.to_pylist():
        row["date"] = row["date"].isoformat()
        for name in FIGURES:
            row[name] = f"{row[name]:.6f}"
        rows.append(row)
    return rows


def _flow_records(engine: AllocationEngine) -> list[dict[str, Any]]:
    flows = flow_columns(engine)
    ids = engine.graph.ids
    dates = [d.isoformat() for d in engine.days.days()]
    return [
        {
            "from": ids[p],
            "to": ids[c],
            "date": dates[t],
            "dimension": engine.dimensions[k],
            "amount": format_micros(int(a)),
            "strategy": s,
            "share": float(sh),
        }
        for p, c, t, k, a, s, sh in zip(
            flows.parent.tolist(),
            flows.child.tolist(),
            flows.day.tolist(),
            flows.dimension.tolist(),
            flows.amount.tolist(),
            flows.strategy,
            flows.share.tolist(),
            strict=True,
        )
    ]
