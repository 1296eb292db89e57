"""Bill files: recognise the layout (FOCUS version or provider profile), stream rows."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from finops.domain.focus.columns import ColumnMap, resolve_columns
from finops.domain.focus.cur_convert import CUR_FOCUS_HEADER, CUR_LABELS
from finops.domain.focus.cur_convert import to_focus_batch as cur_to_focus
from finops.domain.focus.cur_layout import CurLayout, detect_cur
from finops.domain.focus.profiles import (
    PROTOTYPE_COLUMNS,
    ProviderProfile,
    find_profile,
    to_focus_batch,
)
from finops.domain.focus.readers import Progress, RawBatch, iter_batches, read_header
from finops.domain.focus.view import TAG_PREFIX, base_column
from finops.errors import InputError

__all__ = [
    "BILL_FORMATS",
    "BillLayout",
    "FileIdentity",
    "identify_file",
    "open_layout",
    "read_bill",
]

# How a bill is read: `auto` recognises the layout from the header (FOCUS 1.0-1.3,
# AWS CUR legacy or 2.0, a provider CSV); `cur` requires an AWS CUR.
BILL_FORMATS: Final = ("auto", "cur")

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
    cur: CurLayout | None = None


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
    path: Path,
    *,
    required: Iterable[str] = (),
    profile: str | None = None,
    bill_format: str = "auto",
) -> BillLayout:
    """Recognise a file's layout; an unknown one raises InputError naming the gaps."""
    if bill_format not in BILL_FORMATS:
        raise InputError(f"unknown bill format {bill_format!r}", file=str(path))
    header = read_header(path)
    cur = detect_cur(header, file=str(path))
    if cur is not None:
        return _cur_layout(cur, path, required)
    if bill_format == "cur":
        raise InputError(
            "not an AWS Cost and Usage Report: the header has neither "
            "lineItem/UnblendedCost (legacy) nor line_item_unblended_cost (CUR 2.0)",
            file=str(path),
        )
    found = find_profile(header, path, profile)
    if found is not None:
        columns = resolve_columns(_PROFILE_HEADER, file=str(path), required=required)
        return BillLayout(f"provider CSV ({found.name})", columns, found)
    columns = resolve_columns(header, file=str(path), required=required)
    return BillLayout(f"FOCUS {columns.version}", columns)


def _cur_layout(cur: CurLayout, path: Path, required: Iterable[str]) -> BillLayout:
    """The FOCUS view of a CUR: the converted columns, named after their sources."""
    labels = {
        name: f"{name} (from {' or '.join(cur.source(c) for c in sources)})"
        for name, sources in CUR_LABELS.items()
    }
    columns = resolve_columns(
        CUR_FOCUS_HEADER, file=str(path), required=required, labels=labels
    )
    return BillLayout(cur.name, columns, cur=cur)


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
    if layout.cur is not None:
        yield from _read_cur(path, layout.cur, wanted, on_progress)
        return
    if layout.profile is None:
        columns = _file_columns(layout, wanted)
        yield from iter_batches(path, columns, on_progress=on_progress)
        return
    for raw in iter_batches(path, PROTOTYPE_COLUMNS, on_progress=on_progress):
        table = to_focus_batch(raw.table, layout.profile)
        yield RawBatch(table, raw.lines, raw.malformed)


def _read_cur(
    path: Path, cur: CurLayout, wanted: Iterable[str], on_progress: Progress | None
) -> Iterator[RawBatch]:
    """CUR batches converted to FOCUS columns; tag columns read only when wanted."""
    with_tags = any(n == "Tags" or n.startswith(TAG_PREFIX) for n in wanted)
    columns = cur.file_columns(with_tags=with_tags)
    for raw in iter_batches(path, columns, on_progress=on_progress):
        yield RawBatch(cur_to_focus(raw.table, cur), raw.lines, raw.malformed)
