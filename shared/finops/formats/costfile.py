"""Cost files (C): streamed in blocks, amounts summed exactly per node, day, dim."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from finops.domain.allocation.tables import CostTable
from finops.domain.money import (
    MAX_AMOUNT_UNITS,
    check_summable,
    out_of_range,
    to_micros,
)
from finops.formats import arrowkernels as ak
from finops.formats.costblocks import BLOCK_BYTES, open_blocks
from finops.formats.costblocks import MICRO as _MICRO
from finops.formats.inputfiles import (
    COST_COLUMNS,
    all_identifiers,
    costs_slowly,
    days_in_range,
    read_header,
)

__all__ = ["load_costs"]

_EXACT = pa.decimal128(38, 12)
_FAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)
_BLOCK = BLOCK_BYTES


class _NeedsSlowPath(Exception):
    """The fast reader met something only the row-by-row reader can judge."""


# A row's key packs node, day and dimension into one int64: node | day | dim.
_DIM_BITS, _DAY_BITS = 12, 21
_DAY_OFFSET = 1 << (_DAY_BITS - 1)


@dataclass
class _Columns:
    """Keys and micro-units gathered block by block."""

    nodes: dict[str, int] = field(default_factory=dict)
    dims: dict[str, int] = field(default_factory=dict)
    parts: list[tuple[NDArray[np.int64], NDArray[np.int64]]] = field(
        default_factory=list
    )
    # Rows with more than six decimals, kept exact: (key, amount).
    fine: list[tuple[int, Decimal]] = field(default_factory=list)


def load_costs(
    path: Path,
    known_nodes: Collection[str] | None = None,
    *,
    blocks: list[pa.RecordBatch] | None = None,
) -> CostTable:
    """Read C, sum amounts exactly per node, day and dimension, round half-even.

    blocks: the file's Arrow blocks when already parsed (`costs_ahead`); they are
    consumed (the list is emptied as they are summed).
    """
    read_header(path, COST_COLUMNS)
    try:
        cols = _read_blocks(path, blocks)
        if known_nodes is not None and any(n not in known_nodes for n in cols.nodes):
            raise _NeedsSlowPath
    except (_NeedsSlowPath, *_FAST_ERRORS):
        return costs_slowly(path, known_nodes)
    return _summed(path, cols)


def _read_blocks(path: Path, blocks: list[pa.RecordBatch] | None) -> _Columns:
    cols = _Columns()
    if blocks is not None:
        blocks.reverse()
        while blocks:  # each block freed once summed
            _add_batch(cols, blocks.pop())
        return cols
    for batch in open_blocks(path, _BLOCK):
        _add_batch(cols, batch)
    return cols


def _add_batch(cols: _Columns, batch: pa.RecordBatch) -> None:
    if any(batch.column(c).null_count for c in COST_COLUMNS):
        raise _NeedsSlowPath
    node = _global_codes(batch.column("node"), cols.nodes)
    dim = _global_codes(batch.column("dimension"), cols.dims)
    day = ak.cast(batch.column("date"), pa.int32()).to_numpy().astype(np.int64)
    if len(cols.dims) >= 1 << _DIM_BITS or np.abs(day).max() >= _DAY_OFFSET:
        raise _NeedsSlowPath
    key = ((node << _DAY_BITS) + day + _DAY_OFFSET) << _DIM_BITS | dim
    micros = _amounts(cols, key, batch.column("amount"))
    if not days_in_range(batch.column("date")):
        raise _NeedsSlowPath  # the row-by-row reader names the line
    if out_of_range(micros).any() or any(
        abs(amount) > MAX_AMOUNT_UNITS for _, amount in cols.fine
    ):
        raise _NeedsSlowPath  # the row-by-row reader names the line
    cols.parts.append((key, micros))


def _amounts(
    cols: _Columns, key: NDArray[np.int64], text: pa.Array
) -> NDArray[np.int64]:
    """Micro-units per row; rows with more decimals go to cols.fine (and count 0).

    text may hold the amounts already parsed as micro-units (`costs_ahead`)."""
    if text.type == _MICRO:
        return _words(text)
    try:
        return _words(ak.cast(text, _MICRO))
    except pa.ArrowInvalid:
        amount = ak.cast(text, _EXACT)
    rounded = ak.round_half_even(amount, 6)
    micros = _words(ak.cast(rounded, _MICRO))
    fine = np.flatnonzero(~ak.equal(rounded, amount).to_numpy(zero_copy_only=False))
    for i, value in zip(fine.tolist(), ak.take(amount, fine).to_pylist(), strict=True):
        cols.fine.append((int(key[i]), value))
    micros[fine] = 0
    return micros


def _global_codes(column: pa.Array, known: dict[str, int]) -> NDArray[np.int64]:
    """Codes of a block's dictionary column (`costblocks.CODES`) in a dictionary
    that grows across blocks."""
    names = column.dictionary.to_pylist()
    new = [n for n in names if n not in known]  # names of earlier blocks are checked
    if "" in new or not all_identifiers(new):
        raise _NeedsSlowPath  # the row-by-row reader names the line
    mapping = np.array([known.setdefault(n, len(known)) for n in names], dtype=np.int64)
    codes: NDArray[np.int64] = mapping[column.indices.to_numpy(zero_copy_only=False)]
    return codes


def _words(scaled: pa.Array) -> NDArray[np.int64]:
    """The integer of each decimal128 value, if it fits in int64."""
    words = np.frombuffer(scaled.buffers()[1], dtype=np.int64).reshape(-1, 2)
    words = words[scaled.offset : scaled.offset + len(scaled)]
    if not np.array_equal(words[:, 1], words[:, 0] >> 63):
        raise _NeedsSlowPath
    return words[:, 0].copy()


def _summed(path: Path, cols: _Columns) -> CostTable:
    node_ids, dims = list(cols.nodes), list(cols.dims)
    if not cols.parts:
        none = np.zeros(0, dtype=np.int64)
        return CostTable(none, none, none, none, node_ids, dims)
    key = np.concatenate([k for k, _ in cols.parts])
    micros = np.concatenate([m for _, m in cols.parts])
    cols.parts.clear()
    check_summable(micros, file=str(path))
    if not (key[1:] > key[:-1]).all():  # else one row per key, in order already
        order = np.argsort(key, kind="stable")
        key = key[order]
        starts = np.flatnonzero(np.diff(key, prepend=-1) != 0)
        micros = np.add.reduceat(micros[order], starts)
        del order
        key = key[starts]
    totals = micros
    if cols.fine:
        _add_fine(cols.fine, key, totals)
    dim = key & ((1 << _DIM_BITS) - 1)
    day = ((key >> _DIM_BITS) & ((1 << _DAY_BITS) - 1)) - _DAY_OFFSET
    node = key >> (_DIM_BITS + _DAY_BITS)
    return CostTable(node, day, dim, totals, node_ids, dims)


def _add_fine(
    fine: list[tuple[int, Decimal]], keys: NDArray[np.int64], totals: NDArray[np.int64]
) -> None:
    """Fold rows with more than six decimals into their sums exactly, then round."""
    exact: dict[int, Decimal] = {}
    for key, amount in fine:
        exact[key] = exact.get(key, Decimal(0)) + amount
    positions = np.searchsorted(keys, np.array(list(exact), dtype=np.int64))
    for pos, extra in zip(positions.tolist(), exact.values(), strict=True):
        totals[pos] = to_micros(Decimal(int(totals[pos])) / 1_000_000 + extra)
