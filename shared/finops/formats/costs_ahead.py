"""A cost file read ahead on a thread, started before the library is imported.

`finops allocate` starts this first: Arrow parses the file (without the GIL) while
the interpreter imports pydantic and the engine. The blocks are then summed by
`costfile.load_costs`, which judges them exactly as blocks it read itself (and
reads the file again, row by row, for any defect). A file Arrow cannot read gives
no blocks: `load_costs` starts over and raises the error a reading from scratch
gives. Only pyarrow is imported before the thread starts.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from finops.formats.costblocks import open_blocks

if TYPE_CHECKING:
    from finops.domain.allocation.tables import CostTable

__all__ = ["read_costs_ahead"]


def read_costs_ahead(path: Path) -> Future[CostTable]:
    """Read and sum a cost file on a thread; errors wait in the future."""
    done: Future[CostTable] = Future()

    def work() -> None:
        try:
            blocks = _parsed(path)
            from finops.formats.costfile import load_costs

            done.set_result(load_costs(path, blocks=blocks))
        except BaseException as exc:  # raised again by done.result()
            done.set_exception(exc)

    # A daemon: a command that fails early does not wait for the file's end.
    threading.Thread(target=work, name="finops-costs", daemon=True).start()
    return done


def _parsed(path: Path) -> list[pa.RecordBatch] | None:
    try:
        return list(open_blocks(path))
    except Exception:  # any defect: load_costs reads from scratch and names it
        return None
