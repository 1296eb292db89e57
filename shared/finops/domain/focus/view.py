"""One batch of bill rows seen through FOCUS names of any version, as text."""

from __future__ import annotations

from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from finops.domain.focus.columns import ColumnMap
from finops.domain.focus.tags import tag_values

__all__ = ["TAG_PREFIX", "BatchView", "base_column"]

TAG_PREFIX: Final = "Tags."


def base_column(name: str) -> str:
    """The column a name reads: `Tags` for `Tags.key`, else the name itself."""
    return "Tags" if name.startswith(TAG_PREFIX) else name


class BatchView:
    """Columns of one batch by FOCUS name (any version) or `Tags.key`."""

    def __init__(self, table: pa.RecordBatch, columns: ColumnMap) -> None:
        self.table = table
        self.columns = columns
        self._text: dict[str, pa.Array] = {}

    @property
    def num_rows(self) -> int:
        """Rows in the batch."""
        return int(self.table.num_rows)

    def raw(self, name: str) -> pa.Array | None:
        """The column as stored (any type), or None when the file lacks it."""
        column = self.columns.column_for(name)
        if column is None or column not in self.table.schema.names:
            return None
        return self.table.column(column)

    def field(self, field: str) -> pa.Array | None:
        """The column holding a normalised field (e.g. `billed_cost`), or None."""
        column = self.columns.columns.get(field)
        return None if column is None else self.raw(column)

    def text(self, name: str) -> pa.Array:
        """The column as text (all null when absent); `Tags.key` reads one tag."""
        if name not in self._text:
            self._text[name] = self._read_text(name)
        return self._text[name]

    def _read_text(self, name: str) -> pa.Array:
        """Uncached text of a column or tag."""
        if name.startswith(TAG_PREFIX):
            tags = self.raw("Tags")
            if tags is None:
                return pa.nulls(self.num_rows, pa.string())
            return tag_values(tags, name.removeprefix(TAG_PREFIX))
        values = self.raw(name)
        if values is None:
            return pa.nulls(self.num_rows, pa.string())
        return (
            values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
        )

    def filter(self, keep: pa.Array) -> BatchView:
        """A view of the kept rows only."""
        return BatchView(self.table.filter(keep), self.columns)
