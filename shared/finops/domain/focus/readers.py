"""Streaming readers of bill files: CSV (plain or .gz) and Parquet, in Arrow batches."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from numpy.typing import NDArray

from finops.domain.focus.parsing import NULL_STRINGS
from finops.domain.focus.rejects import Reject
from finops.errors import InputError

__all__ = [
    "BATCH_ROWS",
    "Progress",
    "RawBatch",
    "is_parquet",
    "iter_batches",
    "read_header",
]

BATCH_ROWS: Final = 65_536
# Small blocks parse faster (they stay in cache); they are joined into batches.
_CSV_BLOCK_BYTES: Final = 1 << 20

Progress = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class RawBatch:
    """Rows of one file as read: columns by their file names, line numbers, bad rows."""

    table: pa.RecordBatch
    lines: NDArray[np.int64]
    malformed: tuple[Reject, ...] = field(default=())


def is_parquet(path: Path) -> bool:
    """Whether a file is Parquet (by name)."""
    return path.suffix.lower() in (".parquet", ".pq")


def read_header(path: Path) -> tuple[str, ...]:
    """Column names of a bill file; raises InputError if it cannot be read."""
    _check_readable(path)
    if is_parquet(path):
        try:
            return tuple(pq.read_schema(path).names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"not a Parquet file: {exc}", file=str(path)) from None
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            first = stream.read(1 << 20).split(b"\n", 1)[0]
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc}", file=str(path)) from None
    text = first.decode("utf-8-sig", errors="replace").rstrip("\r")
    names = next(csv.reader(io.StringIO(text)), [])
    return tuple(name.strip() for name in names)


def _check_readable(path: Path) -> None:
    """Refuse a missing or unreadable path with a one-line message."""
    if not path.is_file():
        raise InputError("no such file", file=str(path))


def iter_batches(
    path: Path,
    columns: Sequence[str],
    *,
    on_progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[RawBatch]:
    """Stream the given columns of a bill file; memory stays flat in file size.

    A file that cannot be decoded (bad UTF-8, broken gzip or Parquet) raises
    InputError; rows already yielded stay yielded.
    """
    if is_parquet(path):
        batches = _parquet_batches(path, columns, on_progress, batch_rows)
    else:
        batches = _csv_batches(path, columns, on_progress)
    try:
        yield from batches
    except (pa.ArrowInvalid, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read the file: {reason}", file=str(path)) from None


def _parquet_batches(
    path: Path, columns: Sequence[str], on_progress: Progress | None, batch_rows: int
) -> Iterator[RawBatch]:
    """Parquet batches; string nulls spelled `NULL`/`null`/empty become real nulls."""
    parquet = pq.ParquetFile(path)
    total = max(parquet.metadata.num_rows, 1)
    start = 0
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=list(columns)):
        lines = np.arange(start + 2, start + 2 + batch.num_rows, dtype=np.int64)
        start += batch.num_rows
        yield RawBatch(_null_strings(batch), lines)
        if on_progress is not None:
            on_progress(start / total)


def _null_strings(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Plain text columns: dictionaries decoded, literal null spellings made nulls."""
    arrays = []
    for array in batch.columns:
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if pa.types.is_large_string(array.type):
            array = array.cast(pa.string())
        if pa.types.is_string(array.type):
            array = pc.if_else(pc.is_in(array, pa.array(NULL_STRINGS)), None, array)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


class _LineCounter:
    """Physical line numbers of good CSV rows, skipping the malformed ones."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.rows_seen = 0
        self.skipped: list[int] = []
        self.pending: list[Reject] = []

    def on_invalid(self, row: pcsv.InvalidRow) -> str:
        """Record a row with the wrong number of fields; keep reading."""
        line = row.number if row.number is not None else -1
        self.skipped.append(line)
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        self.pending.append(Reject(self.file, line, reason))
        return "skip"

    def take(self, count: int) -> tuple[NDArray[np.int64], tuple[Reject, ...]]:
        """Line numbers of the next `count` good rows and the bad rows seen so far."""
        first = self.rows_seen + 2
        positions = np.arange(first, first + count, dtype=np.int64)
        self.rows_seen += count
        # The i-th skipped line (sorted) sits before every good row whose position
        # without skips is at least line - i; each such skip shifts the row by one.
        skipped = np.sort(np.asarray(self.skipped, dtype=np.int64))
        thresholds = skipped - np.arange(skipped.size, dtype=np.int64)
        lines = positions + np.searchsorted(thresholds, positions, side="right")
        malformed, self.pending = tuple(self.pending), []
        return lines, malformed


def _csv_batches(
    path: Path, columns: Sequence[str], on_progress: Progress | None
) -> Iterator[RawBatch]:
    """CSV batches, every column read as text; line numbers count the header as 1."""
    header = read_header(path)
    counter = _LineCounter(str(path))
    raw = pa.OSFile(str(path))
    size = max(path.stat().st_size, 1)
    gzipped = path.suffix.lower() == ".gz"
    stream = pa.CompressedInputStream(raw, "gzip") if gzipped else raw
    reader = pcsv.open_csv(stream, **_csv_options(header, columns, counter))
    with raw:
        for batch in _joined(reader, BATCH_ROWS):
            lines, malformed = counter.take(batch.num_rows)
            yield RawBatch(batch, lines, malformed)
            if on_progress is not None:
                on_progress(min(raw.tell() / size, 1.0))
    lines, malformed = counter.take(0)
    if malformed:
        empty = pa.RecordBatch.from_pylist([], schema=reader.schema)
        yield RawBatch(empty, lines, malformed)


def _joined(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Join small batches into ones of at least `rows` rows (the last may be fewer)."""
    waiting: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        waiting.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(waiting).combine_chunks().to_batches()[0]
            waiting, count = [], 0
    if count:
        yield pa.Table.from_batches(waiting).combine_chunks().to_batches()[0]


def _csv_options(
    header: Sequence[str], columns: Sequence[str], counter: _LineCounter
) -> dict[str, object]:
    """Reader options: explicit names, text columns, FOCUS null spellings."""
    return {
        "read_options": pcsv.ReadOptions(
            column_names=list(header),
            skip_rows=1,
            use_threads=False,
            block_size=_CSV_BLOCK_BYTES,
        ),
        "parse_options": pcsv.ParseOptions(invalid_row_handler=counter.on_invalid),
        "convert_options": pcsv.ConvertOptions(
            include_columns=list(columns),
            column_types={name: pa.string() for name in columns},
            null_values=NULL_STRINGS,
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    }
