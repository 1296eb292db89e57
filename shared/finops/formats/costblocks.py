"""Arrow blocks of a cost file: the columns, block size and reader `costfile` uses,
importable without the rest of the library (`costs_ahead` starts with them)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.csv as pcsv

__all__ = ["BLOCK_BYTES", "CODES", "COLUMNS", "MICRO", "open_blocks", "read_blocks"]

COLUMNS: Final = ("node", "date", "dimension", "amount")
# Blocks of 4 MiB: on 5,000 nodes x 90 days (47 MB) parsed several at once and summed
# block by block, 0.67 s a run against 0.73 s with 1 MiB (fewer calls between Arrow and
# NumPy, each taking the GIL from the plans) and ~30 MB less at the peak (decision
# 0370); 8 MiB measured the same as 4.
BLOCK_BYTES: Final = 1 << 22
# Text columns parsed as dictionaries: codes into each block's distinct strings,
# built by the reader (cost and usage files; ~20 ms less to sum 1.1 million cost rows,
# ~10 ms less to load 375,000 usage rows, than encoding strings afterwards).
CODES: Final = pa.dictionary(pa.int32(), pa.string())
# Amounts in micro-units: a decimal of six places, its integer the micro-units.
MICRO: Final = pa.decimal128(38, 6)


def open_blocks(
    path: Path, block_bytes: int = BLOCK_BYTES, *, micro_amounts: bool = False
) -> pcsv.CSVStreamingReader:
    """The streaming reader of a cost file (one block at a time): the four columns,
    node and dimension as dictionaries (`CODES`), amounts as text, or with
    micro_amounts as decimals of six places (`MICRO`), parsed by the reader itself:
    a value with more places, or one that is not a number, then fails the reading
    with ArrowInvalid (and an empty one is null)."""
    return pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(block_size=block_bytes),
        convert_options=_convert(micro_amounts),
    )


def read_blocks(
    path: Path, block_bytes: int = BLOCK_BYTES, *, micro_amounts: bool = False
) -> list[pa.RecordBatch]:
    """Every block of a cost file, as `open_blocks` gives them, parsed on Arrow's
    threads, several blocks at once (47 MB alone: 0.07-0.10 s instead of ~0.12 s,
    for ~40 % more CPU)."""
    table = pcsv.read_csv(
        path,
        read_options=pcsv.ReadOptions(block_size=block_bytes),
        convert_options=_convert(micro_amounts),
    )
    batches: list[pa.RecordBatch] = table.to_batches()
    return batches


def _convert(micro_amounts: bool) -> pcsv.ConvertOptions:
    types = {"node": CODES, "date": pa.date32(), "dimension": CODES}
    return pcsv.ConvertOptions(
        column_types={**types, "amount": MICRO if micro_amounts else pa.string()},
        include_columns=list(COLUMNS),
        strings_can_be_null=False,
    )
