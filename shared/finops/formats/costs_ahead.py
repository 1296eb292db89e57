"""A cost file read ahead on a thread, started before the library is imported.

`finops allocate` starts this first: Arrow parses the file on its threads, several
blocks at once (without the GIL), while the interpreter imports the engine and
reads the graph. The blocks are then summed by
`costfile.load_costs`, which judges them exactly as blocks it read itself (and
reads the file again, row by row, for any defect). Amounts are parsed by the reader
as micro-units (~0.03 s less than casting text afterwards on 1.1 million rows);
a file with an amount of more than six places is parsed again with amounts as
text, the form `load_costs` sums exactly. A file Arrow cannot read gives
no blocks: `load_costs` starts over and raises the error a reading from scratch
gives. Only pyarrow is imported before the thread starts.

Before summing, the thread publishes the file's shape (its first and last day and
its dimensions), all the engine needs of the costs to build its plans: the caller
builds them while the blocks are summed. The shape is None when the blocks could
not give it (no blocks, no rows, a null or a day out of range); the caller then
waits for the sums, which name the defect.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from finops.formats.costblocks import read_blocks

if TYPE_CHECKING:
    from finops.domain.allocation.tables import CostTable

__all__ = ["CostShape", "CostsAhead", "read_costs_ahead"]


@dataclass(frozen=True)
class CostShape:
    """A cost file's first and last day and its dimensions (sorted), from its
    blocks before they are summed: the same as the summed table's."""

    first: date
    last: date
    dimensions: tuple[str, ...]


@dataclass(frozen=True)
class CostsAhead:
    """The shape, published first, then the summed table; errors wait in `table`."""

    shape: Future[CostShape | None]
    table: Future[CostTable]


def read_costs_ahead(path: Path) -> CostsAhead:
    """Read and sum a cost file on a thread; errors wait in the table's future."""
    ahead = CostsAhead(Future(), Future())

    def work() -> None:
        try:
            blocks = _parsed(path)
            ahead.shape.set_result(_shape_of(blocks))
            from finops.formats.costfile import load_costs

            ahead.table.set_result(load_costs(path, blocks=blocks))
        except BaseException as exc:  # raised again by table.result()
            if not ahead.shape.done():
                ahead.shape.set_result(None)
            ahead.table.set_exception(exc)

    # A daemon: a command that fails early does not wait for the file's end.
    threading.Thread(target=work, name="finops-costs", daemon=True).start()
    return ahead


def _parsed(path: Path) -> list[pa.RecordBatch] | None:
    """The file's blocks, amounts parsed by the reader in micro-units; when some
    amount has more than six places (or is not a number), as text (`load_costs`
    sums those exactly, or names the defect); None when that fails too."""
    for micro in (True, False):
        try:
            return read_blocks(path, micro_amounts=micro)
        except Exception:  # any defect: load_costs reads from scratch and names it
            continue
    return None


def _shape_of(blocks: list[pa.RecordBatch] | None) -> CostShape | None:
    """The blocks' day range and dimensions; None unless every date and dimension
    is there and every date lies in the range the readers accept."""
    from finops.domain.days import FIRST_DAY, LAST_DAY
    from finops.formats import arrowkernels as ak

    if not blocks:
        return None
    days = pa.chunked_array([b.column("date") for b in blocks])
    dims = pa.chunked_array([b.column("dimension") for b in blocks])
    if len(days) == 0 or days.null_count or dims.null_count:
        return None
    bounds = ak.min_max(days)
    first, last = bounds["min"].as_py(), bounds["max"].as_py()
    if first < FIRST_DAY or last > LAST_DAY:
        return None
    return CostShape(first, last, tuple(sorted(ak.unique(dims).to_pylist())))
