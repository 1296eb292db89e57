"""The JSON result, streamed: objects built by Arrow, written chunk by chunk."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from finops.domain.allocation.engine import AllocationEngine
from finops.domain.allocation.readout import (
    STRATEGY_NAMES,
    FlowColumns,
    iter_flow_columns,
    node_arrays,
    summarize,
)
from finops.domain.allocation.tables import to_day_numbers
from finops.formats.arrow_columns import date_column, decimal_column

__all__ = ["FIGURES", "nonzero_node_rows", "write_json"]

FIGURES = ("direct", "indirect", "holistic", "allocated_out", "retained")
_CHUNK = 1 << 20


def write_json(engine: AllocationEngine, handle: BinaryIO) -> None:
    """{"summary": ..., "nodes": [...], "flows": [...]}, amounts as decimal strings."""
    summary = json.dumps(summarize(engine).to_json())
    handle.write(b'{"summary": ' + summary.encode() + b', "nodes": [')
    _write_objects(handle, _node_objects(engine))
    handle.write(b'], "flows": [')
    flows = iter_flow_columns(engine, chunk_rows=_CHUNK)
    _write_objects(handle, (_flow_objects(engine, chunk) for chunk in flows))
    handle.write(b"]}")


def nonzero_node_rows(
    engine: AllocationEngine,
) -> tuple[
    NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], list[NDArray[np.int64]]
]:
    """Node, day and dimension indices of rows with any non-zero figure, and figures."""
    arrays = node_arrays(engine)
    figures = [getattr(arrays, name) for name in FIGURES]
    nodes, days, dims = np.nonzero(np.any([f != 0 for f in figures], axis=0))
    return nodes, days, dims, [f[nodes, days, dims] for f in figures]


def _node_objects(engine: AllocationEngine) -> Iterator[pa.Array]:
    nodes, days, dims, figures = nonzero_node_rows(engine)
    names, dim_names = _json_names(engine.graph.ids), _json_names(engine.dimensions)
    first = to_day_numbers([engine.days.first])[0]
    for lo in range(0, nodes.size, _CHUNK):
        part = slice(lo, lo + _CHUNK)
        pieces: list[object] = [
            ',{"node":',
            names.take(pa.array(nodes[part])),
            ',"date":"',
            date_column(days[part] + first).cast(pa.string()),
            '","dimension":',
            dim_names.take(pa.array(dims[part])),
        ]
        for name, figure in zip(FIGURES, figures, strict=True):
            pieces += [f',"{name}":"', _decimal_text(figure[part]), '"']
        yield pc.binary_join_element_wise(*pieces, "}", "")


def _flow_objects(engine: AllocationEngine, flows: FlowColumns) -> pa.Array:
    names = _json_names(engine.graph.ids)
    first = to_day_numbers([engine.days.first])[0]
    return pc.binary_join_element_wise(
        ',{"from":',
        names.take(pa.array(flows.parent)),
        ',"to":',
        names.take(pa.array(flows.child)),
        ',"date":"',
        date_column(flows.day + first).cast(pa.string()),
        '","dimension":',
        _json_names(engine.dimensions).take(pa.array(flows.dimension)),
        ',"amount":"',
        _decimal_text(flows.amount),
        '","strategy":',
        _json_names(STRATEGY_NAMES).take(pa.array(flows.strategy_code)),
        ',"share":',
        pc.cast(pa.array(flows.share), pa.string()),
        "}",
        "",
    )


def _json_names(names: Sequence[str]) -> pa.Array:
    """Names as JSON string literals (quoted and escaped)."""
    return pa.array([json.dumps(name) for name in names], type=pa.string())


def _decimal_text(micros: NDArray[np.int64]) -> pa.Array:
    """Six-decimal strings, exact."""
    return pc.cast(decimal_column(micros), pa.string())


def _write_objects(handle: BinaryIO, arrays: Iterable[pa.Array]) -> None:
    """Write strings that each start with a comma, dropping the very first comma."""
    skip = 1
    for array in arrays:
        if len(array) == 0:
            continue
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)
        offsets = offsets[array.offset : array.offset + len(array) + 1]
        data = memoryview(array.buffers()[2])
        handle.write(data[int(offsets[0]) + skip : int(offsets[-1])])
        skip = 0
