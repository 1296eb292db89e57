"""Building an engine from G, C and U files (the I/O around the pure engine)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
from numpy.typing import NDArray

from finops.domain.allocation.engine import AllocationEngine
from finops.domain.allocation.tables import CostTable, UsageTable
from finops.domain.costgraph import CostGraph, GraphFields, build_graph
from finops.domain.days import DayRange
from finops.errors import FinopsError, InputError
from finops.formats.costfile import load_costs
from finops.formats.inputfiles import load_usage
from finops.formats.plaingraph import read_plain_graph

if TYPE_CHECKING:
    from finops.domain.allocation.synth import SynthOrg
    from finops.formats.costs_ahead import CostsAhead, CostShape

__all__ = ["load_engine", "parse_day", "read_graph", "write_org"]

_T = TypeVar("_T", CostTable, UsageTable)


def read_graph(path: Path) -> GraphFields:
    """A graph file: a JSON file in the plain form without pydantic, any other (and
    any defect, named) by `graphfile.load_graph` (decision 0360)."""
    spec = read_plain_graph(path)
    if spec is None:
        from finops.formats.graphfile import load_graph

        return load_graph(path)
    return spec


def parse_day(text: str | None, option: str) -> date | None:
    """An ISO date from a command-line option, or None."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option}: malformed date {text!r}") from None


def load_engine(
    graph_path: Path,
    costs_path: Path,
    usage_path: Path | None = None,
    *,
    first: date | None = None,
    last: date | None = None,
    costs_ahead: CostsAhead | None = None,
) -> AllocationEngine:
    """Read and validate the files, then allocate every day in range.

    The cost file, the largest, and then the usage file are read on threads (Arrow
    and NumPy release the GIL) while this one parses the graph. Errors are the
    ones reading the files one after another gives: the graph's first, then the
    costs', then the usage's, and a file naming a node the graph lacks is read
    again knowing the graph, so the message names the file's first bad line.

    costs_ahead: the cost file already being read (`costs_ahead.read_costs_ahead`);
    the usage file is then read on this function's reading thread. When it gives
    the file's shape (day range and dimensions) before its sums, the engine builds
    its plans while the costs are summed. The engine is built with the reading
    thread lent as its executor (it builds the direct array beside the plans and
    takes half of the first full pass's splits; the same bits).
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="finops-read") as pool:
        costs_job = (
            costs_ahead.table if costs_ahead else pool.submit(load_costs, costs_path)
        )
        usage_job = pool.submit(load_usage, usage_path) if usage_path else None
        graph = build_graph(read_graph(graph_path))
        known = graph.index

        def costs() -> CostTable:
            return _known_only(costs_job, lambda: load_costs(costs_path, known), known)

        def usage() -> UsageTable:
            if usage_path is None or usage_job is None:
                return UsageTable.empty()
            return _known_only(usage_job, lambda: load_usage(usage_path, known), known)

        shape = costs_ahead.shape.result() if costs_ahead else None
        days = _shape_days(shape, first, last)
        if shape is not None and days is not None:
            try:
                return _engine_early(graph, costs, usage, shape, days, pool)
            except _ShapeDiffers:
                pass  # never seen; the engine is then built from the table below
        table = costs()
        return AllocationEngine(
            graph,
            table,
            usage(),
            days=_day_range(table.day, first, last),
            executor=pool,
        )


class _ShapeDiffers(Exception):
    """The summed cost table's day range or dimensions are not its blocks' shape."""


def _engine_early(
    graph: CostGraph,
    costs: Callable[[], CostTable],
    usage: Callable[[], UsageTable],
    shape: CostShape,
    days: DayRange,
    pool: ThreadPoolExecutor,
) -> AllocationEngine:
    """The engine built from the cost file's shape while its blocks are summed.

    The table is checked against the shape on the reading thread, before the
    direct array is built from it. A cost file's error comes before the usage
    file's and the plans' errors, as in a reading one file after another.
    """

    def checked() -> CostTable:
        table = costs()
        found = (table.day.min(), table.day.max()) if table.day.size else None
        if tuple(sorted(table.dimensions)) != shape.dimensions or found != (
            _day_number(shape.first),
            _day_number(shape.last),
        ):
            raise _ShapeDiffers
        return table

    table = pool.submit(checked)
    try:
        return AllocationEngine(
            graph,
            table,
            usage(),
            days=days,
            dimensions=shape.dimensions,
            executor=pool,
        )
    except Exception:
        table.result()  # the cost file's error first, if it has one
        raise


def _shape_days(
    shape: CostShape | None, first: date | None, last: date | None
) -> DayRange | None:
    """The day range the shape gives; None without a shape or when the range is
    empty (the table then names the error, after any error of the cost file)."""
    if shape is None:
        return None
    lo, hi = first or shape.first, last or shape.last
    return DayRange(first=lo, last=hi) if lo <= hi else None


def _day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _known_only(job: Future[_T], again: Callable[[], _T], known: Collection[str]) -> _T:
    """A table read without the graph; read again knowing it when it failed or names
    unknown nodes (that reading raises the error a graph-aware reading gives)."""
    try:
        table = job.result()
    except FinopsError:
        return again()
    if any(n not in known for n in table.node_ids):
        return again()
    return table


def _day_range(
    cost_days: NDArray[np.int64], first: date | None, last: date | None
) -> DayRange:
    epoch = date(1970, 1, 1).toordinal()
    if cost_days.size == 0 and (first is None or last is None):
        raise InputError("no costs in the files and no --from/--to range")
    lo = first or date.fromordinal(epoch + int(cost_days.min()))
    hi = last or date.fromordinal(epoch + int(cost_days.max()))
    if hi < lo:
        raise InputError(f"--to {hi} is before --from {lo}")
    return DayRange(first=lo, last=hi)


def write_org(org: SynthOrg, out: Path) -> list[Path]:
    """Write graph.json, costs.csv and usage.csv of a synthetic organisation."""
    # Only `finops synth` writes: `allocate` does not import the generator.
    from finops.domain.allocation.synth import METRICS
    from finops.formats.arrow_columns import date_column, decimal_column, string_column
    from finops.formats.graphfile import save_graph

    out.mkdir(parents=True, exist_ok=True)
    graph, costs, usage = out / "graph.json", out / "costs.csv", out / "usage.csv"
    save_graph(org.spec, graph)
    c = org.costs
    pcsv.write_csv(
        pa.table(
            {
                "node": string_column(c["node"], org.node_ids),
                "date": date_column(c["day"]),
                "dimension": string_column(c["dimension"], org.dimensions),
                "amount": decimal_column(c["micros"]),
            }
        ),
        costs,
    )
    u = org.usage
    labels = np.where(u["prod"], '{"env": "prod"}', '{"env": "staging"}')
    pcsv.write_csv(
        pa.table(
            {
                "node": string_column(u["node"], org.node_ids),
                "date": date_column(u["day"]),
                "metric": string_column(u["metric"], list(METRICS)),
                "value": pa.array(u["value"]),
                "labels": pa.array(labels.tolist()),
            }
        ),
        usage,
    )
    return [graph, costs, usage]
