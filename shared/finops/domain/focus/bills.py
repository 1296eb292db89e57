"""Bill files: recognise the layout (FOCUS version or provider profile), stream rows."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from finops.domain.focus.columns import ColumnMap, resolve_columns
from finops.domain.focus.profiles import (
    PROTOTYPE_COLUMNS,
    ProviderProfile,
    find_profile,
    to_focus_batch,
)
from finops.domain.focus.readers import Progress, RawBatch, iter_batches, read_header
from finops.domain.focus.view import base_column

__all__ = ["BillLayout", "FileIdentity", "identify_file", "open_layout", "read_bill"]

_PROFILE_HEADER = (
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "BillingAccountId",
    "BillingCurrency",
    "BillingPeriodStart",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeDescription",
    "ServiceName",
    "ServiceCategory",
    "BilledCost",
    "EffectiveCost",
    "Environment",
    "Tags",
)


@dataclass(frozen=True, slots=True)
class BillLayout:
    """How a file is laid out: its FOCUS column map and, if any, provider profile."""

    name: str
    columns: ColumnMap
    profile: ProviderProfile | None = None


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """A delivered file: its name, size and content hash (sha256, hex)."""

    path: Path
    size: int
    content_hash: str


def identify_file(path: Path) -> FileIdentity:
    """Hash a file's bytes; the same content always gives the same identity."""
    with path.open("rb") as data:
        digest = hashlib.file_digest(data, "sha256").hexdigest()
    return FileIdentity(path=path, size=path.stat().st_size, content_hash=digest)


def open_layout(
    path: Path, *, required: Iterable[str] = (), profile: str | None = None
) -> BillLayout:
    """Recognise a file's layout; an unknown one raises InputError naming the gaps."""
    header = read_header(path)
    found = find_profile(header, path, profile)
    if found is not None:
        columns = resolve_columns(_PROFILE_HEADER, file=str(path), required=required)
        return BillLayout(f"provider CSV ({found.name})", columns, found)
    columns = resolve_columns(header, file=str(path), required=required)
    return BillLayout(f"FOCUS {columns.version}", columns)


def _file_columns(layout: BillLayout, wanted: Iterable[str]) -> list[str]:
    """The file's own columns holding the wanted FOCUS names (tags via `Tags`)."""
    found: dict[str, None] = {}
    for name in wanted:
        column = layout.columns.column_for(base_column(name))
        if column is not None:
            found[column] = None
    return list(found)


def read_bill(
    path: Path,
    layout: BillLayout,
    wanted: Iterable[str],
    *,
    on_progress: Progress | None = None,
) -> Iterator[RawBatch]:
    """Stream the wanted columns (FOCUS names of any version) in FOCUS shape."""
    if layout.profile is None:
        columns = _file_columns(layout, wanted)
        yield from iter_batches(path, columns, on_progress=on_progress)
        return
    for raw in iter_batches(path, PROTOTYPE_COLUMNS, on_progress=on_progress):
        table = to_focus_batch(raw.table, layout.profile)
        yield RawBatch(table, raw.lines, raw.malformed)
